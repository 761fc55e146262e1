"""Data: versioned datasets, their sources, profiles, validation rules, masking and splits."""
