"""The Home Assistant add-on service (aiohttp). Built in a later issue."""
