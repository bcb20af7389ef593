"""Rules as data: schema, loader, the rule engine, context checks and the meaning layer."""
