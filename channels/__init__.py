"""Delivery of planned messages: one adapter per channel/provider and a ledger that never sends twice.

A plain library: nothing here imports Dagster, so the same code runs from a notebook, a CLI or a test.

    from channels.delivery import deliver
    from channels.ledger import Ledger
    from channels.registry import from_env

    with Ledger("warehouse/ledger.sqlite") as ledger, from_env("nhn_sms") as adapter:
        report = deliver(messages, adapter, ledger)   # DeliveryReport; raises TransientChannelError /
                                                      # ChannelConfigError (with .report) to stop a channel

* `models`: Message, SendResult, Outcome, Channel, Purpose (what each channel's address is);
* `base`: the one adapter contract (`send`, optional `lookup`) and its frozen `Limits`;
* `adapters/`: outbox, smtp, sendgrid, nhn_sms, nhn_alimtalk, fcm, webpush, webhook; each declares
  its channels, limits and configuration on the class and reads secrets from the environment
  (`from_env`, variables named in each module's docstring); `registry`: one entry per adapter;
  docs/adding-a-channel.md says what a new one touches;
* `delivery`: triage, crash recovery, the scheduler (thread pool, shared rate limit, Retry-After /
  backoff, outage and configuration stops) and what an answer means; `report`: `DeliveryReport`;
* `ledger`: one row per message (claim / record / settle / read) and the suppression list;
* `shards`: a stable hash of the key splits a send list so several workers deliver it without overlap;
* `receipts`: verify and apply provider events (delivered/opened/clicked/bounced/unsubscribed);
* `fakes/`: local servers behaving like each provider, `python -m channels.fakes` to serve them;
* `python -m channels unknowns|resolve|status --ledger PATH`: settle what could not be settled.
"""
