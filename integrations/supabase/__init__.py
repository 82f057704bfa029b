"""The built-in ``supabase`` integration (being assembled: the test double comes first)."""
