"""The concept explorer: its content, the static site writer, its page template and a browser driver."""
