"""Call-attempt detection on raw Diameter bytes: which CCRs are voice calls (and who calls
whom), and which CCAs say the caller is out of credit.

Typical wiring::

    config = parse_detection(root.section("detection"))      # ConfigError on problems
    detection = build_detection(config)                       # loads the dictionaries
    context = detection.extractor.call_context(request)       # CallContext | None
    verdict = detection.classifier.out_of_credit(answer)      # OutOfCredit | None
"""

from __future__ import annotations

from dataclasses import dataclass

from interceptor.detection.answer import (
    EXPERIMENTAL,
    MSCC,
    TOP_LEVEL,
    OutOfCredit,
    OutOfCreditClassifier,
)
from interceptor.detection.config import (
    DEFAULT_CALLEE_PATHS,
    DEFAULT_CALLER_PATHS,
    DEFAULT_EXCLUDE_WHEN,
    DEFAULT_OUT_OF_CREDIT_CODES,
    DEFAULT_VOICE_CONTEXTS,
    DetectionConfig,
    load_detection_dictionary,
    parse_detection,
)
from interceptor.detection.request import CallContext, CallContextExtractor
from interceptor.diameter.dictionary import Dictionary

__all__ = [
    "DEFAULT_CALLEE_PATHS",
    "DEFAULT_CALLER_PATHS",
    "DEFAULT_EXCLUDE_WHEN",
    "DEFAULT_OUT_OF_CREDIT_CODES",
    "DEFAULT_VOICE_CONTEXTS",
    "EXPERIMENTAL",
    "MSCC",
    "TOP_LEVEL",
    "CallContext",
    "CallContextExtractor",
    "Detection",
    "DetectionConfig",
    "OutOfCredit",
    "OutOfCreditClassifier",
    "build_detection",
    "parse_detection",
]


@dataclass(frozen=True)
class Detection:
    dictionary: Dictionary
    extractor: CallContextExtractor
    classifier: OutOfCreditClassifier


def build_detection(config: DetectionConfig,
                    dictionary: Dictionary | None = None) -> Detection:
    """Compile the config. Loads the shipped + configured dictionaries unless given one.

    Raises DictionaryError / PathError only for configs that did not come through
    parse_detection (which checks all of this and reports ConfigErrors).
    """
    if dictionary is None:
        dictionary = load_detection_dictionary(config)
    return Detection(dictionary, CallContextExtractor(config, dictionary),
                     OutOfCreditClassifier(config))
