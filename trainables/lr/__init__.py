"""trainables/lr."""
