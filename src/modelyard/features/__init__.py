"""Features: a declarative preprocessing spec compiled to a scikit-learn ColumnTransformer."""
