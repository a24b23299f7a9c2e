from shared.contracts.base import Message, decode, message_class
from shared.contracts.messages import *  # noqa: F403

__all__ = ["Message", "decode", "message_class"]
