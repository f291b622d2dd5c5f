"""What a callback's CCR-Update/Terminate reports as used: CC-Time in Used-Service-Unit,
at top level and inside each Multiple-Services-Credit-Control (side-work process)."""

from __future__ import annotations

from interceptor.diameter import codec

AVP_USED_SERVICE_UNIT = 446
AVP_MSCC = 456
AVP_CC_TIME = 420
CC_TERMINATE = 3


def used_seconds(request: bytes) -> int:
    """The sum of every Used-Service-Unit's CC-Time (0 if none)."""
    total = 0
    try:
        for span in codec.iter_avps(request, codec.HEADER_LENGTH, len(request)):
            if span.vendor_id:
                continue
            if span.code == AVP_USED_SERVICE_UNIT:
                total += _cc_time(request, span)
            elif span.code == AVP_MSCC:
                for inner in codec.iter_avps(request, span.data_start, span.data_end):
                    if inner.code == AVP_USED_SERVICE_UNIT and not inner.vendor_id:
                        total += _cc_time(request, inner)
    except codec.AvpLengthError:
        return total
    return total


def _cc_time(request: bytes, unit: codec.AvpSpan) -> int:
    span = codec.find_avp(request, AVP_CC_TIME, 0, unit.data_start, unit.data_end)
    value = codec.unsigned32(request, span) if span is not None else None
    return value or 0


def request_type(request: bytes) -> int | None:
    span = codec.find_avp(request, codec.AVP_CC_REQUEST_TYPE)
    return codec.unsigned32(request, span) if span is not None else None
