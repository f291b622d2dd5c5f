"""The beep SMS: to B (and optionally A) with an operator advertisement, over SMPP.

config.py (the ``sms`` section), gsm7.py (encodings and parts), templates.py (the text),
rules.py (which beep outcomes send it), ads.py (campaign choice), scheduler.py (claims
queued attempts, submits, records results and delivery receipts).
"""
