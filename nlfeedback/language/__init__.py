"""Language: the offline sentence encoder, clause fragments, negation, and interpreters (text → per-step targets)."""
