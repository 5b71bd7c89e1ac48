"""`dreambot sandbox`: the real bot against a local Discord, with a page that looks like a channel."""
