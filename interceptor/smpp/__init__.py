"""SMPP 3.4 client (ESME) on Twisted, using smpp.pdu3's PDU codec.

``codec`` frames and builds PDUs, ``protocol`` is one bind (bind, enquire_link, window,
timeouts, delivery receipts), ``bind`` keeps one bind up with ``ClientService``, ``pool``
spreads submit_sm over several binds with failover, a TPS cap and throttling back-off.
"""

from interceptor.smpp.config import BindConfig, PoolConfig
from interceptor.smpp.messages import DeliveryReceipt, ShortMessage
from interceptor.smpp.pool import SmppPool

__all__ = ["BindConfig", "DeliveryReceipt", "PoolConfig", "ShortMessage", "SmppPool"]
