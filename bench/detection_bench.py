"""Micro-benchmark of the detection hot path: ``python -m bench.detection_bench``.

Prints microseconds per call for CCR extraction (voice candidate, Gy data, CCR-Update)
and CCA classification (2001, 4012 top-level, 4012 in MSCC) on realistic messages.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

from interceptor.core.avps import CC_UPDATE, CONTEXT_GY_DATA, CREDIT_LIMIT_REACHED, SUCCESS
from interceptor.detection import DetectionConfig, build_detection
from interceptor.diameter.traffic import CallAttempt, cca, ccr


def cases() -> list[tuple[str, Callable[[], object]]]:
    detection = build_detection(DetectionConfig())
    extract = detection.extractor.call_context
    classify = detection.classifier.out_of_credit
    voice = ccr(CallAttempt())
    voice_sip = ccr(CallAttempt(
        subscription_ids=(), called_party_address=None,
        requested_party_address="sip:0987654321@ims.example.net;user=phone"))
    data = ccr(CallAttempt(service_context=CONTEXT_GY_DATA, service_information=False))
    update = ccr(CallAttempt(request_type=CC_UPDATE))
    ok = cca(voice, mscc_result_codes=[SUCCESS])
    top = cca(voice, result_code=CREDIT_LIMIT_REACHED, mscc_result_codes=[])
    mscc = cca(voice, mscc_result_codes=[SUCCESS, CREDIT_LIMIT_REACHED])
    return [
        (f"CCR-I voice, A in Subscription-Id ({len(voice)} B)", lambda: extract(voice)),
        (f"CCR-I voice, fallbacks to Calling/Requested-Party ({len(voice_sip)} B)",
         lambda: extract(voice_sip)),
        (f"CCR-I Gy data ({len(data)} B)", lambda: extract(data)),
        (f"CCR-U voice ({len(update)} B)", lambda: extract(update)),
        (f"CCA 2001 + MSCC 2001 ({len(ok)} B)", lambda: classify(ok)),
        (f"CCA 4012 top-level ({len(top)} B)", lambda: classify(top)),
        (f"CCA 2001 + MSCC 2001, 4012 ({len(mscc)} B)", lambda: classify(mscc)),
    ]


def measure(function: Callable[[], object], number: int, repeat: int) -> float:
    """Best of ``repeat`` runs, in microseconds per call."""
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    for name, function in cases():
        print(f"{measure(function, args.number, args.repeat):7.2f} us  {name}")


if __name__ == "__main__":
    main()
