"""The alert webhook resource, from the environment (its own module: a module with a definitions function
contributes only what that function returns)."""

import os
from typing import Any

import dagster as dg

from orchestration.defs.console.alerts import WEBHOOK_ENV, AlertWebhook


@dg.definitions
def alert_resources() -> dg.Definitions:
    webhook: Any = dg.EnvVar(WEBHOOK_ENV) if os.environ.get(WEBHOOK_ENV) else ""
    return dg.Definitions(resources={"alert_webhook": AlertWebhook(url=webhook)})
