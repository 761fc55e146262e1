"""Small private helpers shared by every layer; domain code never lives here."""
