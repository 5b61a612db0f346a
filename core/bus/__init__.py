"""NATS as the application's bus: record events for other services, and webhooks.

Both sit on top of the store's change stream and `core/nats/`; the store knows nothing of them.
"""
