"""dreambot's Discord side (asyncio, discord.py). Never imports torch."""
