"""`dreambot sandbox`: the real bot against a local Discord, on a page like a Discord channel."""
