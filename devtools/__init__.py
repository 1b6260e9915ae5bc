"""What bench/, experiments/ and tests/ share, so that none imports another: developer helpers,
not part of the library."""
