"""Delivery of planned messages: one adapter per channel/provider and a ledger that never sends twice.

A plain library: nothing here imports Dagster, so the same code runs from a notebook, a CLI or a test.

    from channels.delivery import deliver
    from channels.ledger import Ledger
    from channels.registry import from_env

    with Ledger("warehouse/ledger.sqlite") as ledger, from_env("nhn_sms") as adapter:
        report = deliver(messages, adapter, ledger)   # DeliveryReport; raises TransientChannelError /
                                                      # ChannelConfigError (with .report) to stop a channel

* `models`: Message, SendResult, Outcome, Channel, Purpose (what each channel's address is);
* `adapters/`: outbox, smtp, sendgrid, nhn_sms, nhn_alimtalk, fcm, webpush, webhook; each declares
  its limits on the class and reads secrets from the environment (`from_env`, variables named in
  each module's docstring); `registry`: names -> classes, channel -> default adapter;
* `delivery`: the loop (batching, thread pool, shared rate limit, Retry-After/backoff, outage and
  configuration stops, crash recovery); `ledger`: the SQLite record and suppression list;
* `receipts`: verify and apply provider events (delivered/opened/clicked/bounced/unsubscribed);
* `fakes/`: local servers behaving like each provider, `python -m channels.fakes` to serve them;
* `python -m channels unknowns|resolve|status --ledger PATH`: settle what could not be settled.
"""
