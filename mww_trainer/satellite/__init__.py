"""Recording through Home Assistant's voice satellites.

client.py    Home Assistant's websocket API: authenticate, commands, subscriptions
errors.py    what can go wrong, each with a message that says what to do
listing.py   the household's satellites and whether each can be prompted
capture.py   one take: `assist_pipeline/device/capture` until `end`
prompt.py    asking the satellite to say something and listen (ask_question, start_conversation)
takes.py     trimming and judging a take (level, clipping, length, speech)
session.py   a guided session: satellites x takes, with progress, cancel, re-take and skip

aiohttp is imported by client.py only; nothing here imports the add-on.
"""
