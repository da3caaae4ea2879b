"""Browser tests: the admin UI driven by headless Chromium."""
