"""Diameter wire constants: header flags, command codes, applications, AVP codes, vendors,
result codes and the values this product reads (RFC 6733, RFC 8506, 3GPP TS 32.299).

One place for every number, as python-diameter keeps its ``constants`` module; code that
walks raw bytes (the relay, detection, the tap, callbacks) and code that builds messages
(the agent's own, the demo's, the tests' and the benchmarks') both name them from here.
"""

from __future__ import annotations

# -- header (RFC 6733 §3) ---------------------------------------------------------------
HEADER_LENGTH = 20
VERSION = 1

FLAG_REQUEST = 0x80
FLAG_PROXIABLE = 0x40
FLAG_ERROR = 0x20
FLAG_RETRANSMIT = 0x10
FLAGS_RESERVED = 0x0F

AVP_FLAG_VENDOR = 0x80
AVP_FLAG_MANDATORY = 0x40

# -- vendors ------------------------------------------------------------------------------
VENDOR_IETF = 0
VENDOR_3GPP = 10415

# -- applications -------------------------------------------------------------------------
APPLICATION_COMMON = 0
APPLICATION_CREDIT_CONTROL = 4  # RFC 8506: Ro and Gy
APPLICATION_RELAY = 0xFFFFFFFF

# -- command codes ------------------------------------------------------------------------
CMD_CAPABILITIES_EXCHANGE = 257
CMD_RE_AUTH = 258
CMD_CREDIT_CONTROL = 272
CMD_ABORT_SESSION = 274
CMD_SESSION_TERMINATION = 275
CMD_DEVICE_WATCHDOG = 280
CMD_DISCONNECT_PEER = 282
# The base protocol's own exchanges (RFC 6733 §5): a node answers them itself.
BASE_COMMANDS = frozenset({CMD_CAPABILITIES_EXCHANGE, CMD_DEVICE_WATCHDOG,
                           CMD_DISCONNECT_PEER})

# -- base AVPs (RFC 6733) -----------------------------------------------------------------
AVP_HOST_IP_ADDRESS = 257
AVP_AUTH_APPLICATION_ID = 258
AVP_ACCT_APPLICATION_ID = 259
AVP_VENDOR_SPECIFIC_APPLICATION_ID = 260
AVP_SESSION_ID = 263
AVP_ORIGIN_HOST = 264
AVP_SUPPORTED_VENDOR_ID = 265
AVP_VENDOR_ID = 266
AVP_FIRMWARE_REVISION = 267
AVP_RESULT_CODE = 268
AVP_PRODUCT_NAME = 269
AVP_DISCONNECT_CAUSE = 273
AVP_ORIGIN_STATE_ID = 278
AVP_FAILED_AVP = 279
AVP_ERROR_MESSAGE = 281
AVP_ROUTE_RECORD = 282
AVP_DESTINATION_REALM = 283
AVP_PROXY_INFO = 284
AVP_DESTINATION_HOST = 293
AVP_ERROR_REPORTING_HOST = 294
AVP_ORIGIN_REALM = 296
AVP_EXPERIMENTAL_RESULT = 297
AVP_EXPERIMENTAL_RESULT_CODE = 298
AVP_INBAND_SECURITY_ID = 299

# -- credit control AVPs (RFC 8506) -------------------------------------------------------
AVP_CC_REQUEST_NUMBER = 415
AVP_CC_REQUEST_TYPE = 416
AVP_CC_TIME = 420
AVP_SUBSCRIPTION_ID_DATA = 444
AVP_USED_SERVICE_UNIT = 446
AVP_SUBSCRIPTION_ID_TYPE = 450
AVP_MULTIPLE_SERVICES_CREDIT_CONTROL = 456
AVP_SUBSCRIPTION_ID = 443
AVP_SERVICE_CONTEXT_ID = 461

# CC-Request-Type values
CC_INITIAL = 1
CC_UPDATE = 2
CC_TERMINATE = 3
CC_EVENT = 4

# Subscription-Id-Type values
END_USER_E164 = 0
END_USER_IMSI = 1
END_USER_SIP_URI = 2
END_USER_NAI = 3
END_USER_PRIVATE = 4

# -- 3GPP AVPs (TS 32.299, vendor 10415) --------------------------------------------------
AVP_TGPP_CALLING_PARTY_ADDRESS = 831
AVP_TGPP_CALLED_PARTY_ADDRESS = 832
AVP_TGPP_IMS_CHARGING_IDENTIFIER = 841
AVP_TGPP_SERVICE_INFORMATION = 873
AVP_TGPP_IMS_INFORMATION = 876
AVP_TGPP_REQUESTED_PARTY_ADDRESS = 1251

# -- Service-Context-Id values (TS 32.299 §7.1.12) ----------------------------------------
CONTEXT_IMS_VOICE = "32260@3gpp.org"  # IMS charging (CSCF, AS)
CONTEXT_MMTEL = "32275@3gpp.org"  # MMTel
CONTEXT_GY_DATA = "32251@3gpp.org"  # PS data (PGW): never a beep

# -- result codes -------------------------------------------------------------------------
SUCCESS = 2001
COMMAND_UNSUPPORTED = 3001
UNABLE_TO_DELIVER = 3002
REALM_NOT_SERVED = 3003
TOO_BUSY = 3004
LOOP_DETECTED = 3005
APPLICATION_UNSUPPORTED = 3007
INVALID_HDR_BITS = 3008
INVALID_AVP_BITS = 3009
UNKNOWN_PEER = 3010
ELECTION_LOST = 4003
CREDIT_CONTROL_NOT_APPLICABLE = 4011  # RFC 8506
CREDIT_LIMIT_REACHED = 4012  # RFC 8506: the out-of-credit answer
INVALID_AVP_VALUE = 5004
MISSING_AVP = 5005
NO_COMMON_APPLICATION = 5010
UNSUPPORTED_VERSION = 5011
UNABLE_TO_COMPLY = 5012
INVALID_AVP_LENGTH = 5014
INVALID_MESSAGE_LENGTH = 5015

# Disconnect-Cause values
DISCONNECT_REBOOTING = 0
DISCONNECT_BUSY = 1
DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU = 2
