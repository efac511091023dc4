"""Training-time augmentation that changes a message's envelope, not its meaning.

Our items are short and tidy; real inboxes wrap the same request in greetings, sign-offs,
phone footers, legal disclaimers, quoted earlier replies, ticket headers, @-mentions and
star ratings, and write it in lower case or with typos. A copy of a training item in such
an envelope keeps its label, so the model learns that the envelope carries no intent
(``feedback train --augment``, measured in docs/MODEL_REPORT.md). This is not dataset content:
nothing here is written to the data file, and validation, development and test items are
never augmented.

Pure functions of their arguments and a seeded ``random.Random``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from training.data import Example

GREETINGS = ("Hi,", "Hello,", "Hi team,", "Hello support,", "Dear Sir or Madam,", "Good morning,", "Hey there,",
             "Hi all,", "To whom it may concern,", "Hello again,", "Hiya,", "Dear customer service team,")
SIGN_OFFS = ("Thanks,", "Thank you,", "Best regards,", "Kind regards,", "Cheers,", "Regards,", "Many thanks,",
             "Thanks in advance,", "Best,", "Sincerely,", "Thx,")
NAMES = ("Maria", "J. Okafor", "Tom", "Priya Nair", "Lukas", "Ana G.", "Chen Wei", "Dave", "Fatima", "Sam R.",
         "Olu", "Kasia Nowak", "Marco", "Aisha", "Greg from Accounts", "Hiroshi T.")
FOOTERS = ("Sent from my iPhone", "Sent from my Galaxy", "Get Outlook for Android", "Sent from Mail for Windows",
           "Sent from Yahoo Mail on Android")
DISCLAIMERS = (
    "CONFIDENTIALITY NOTICE: This e-mail and any attachments are for the sole use of the intended recipient(s). "
    "If you are not the intended recipient, please delete it and notify the sender.",
    "This message may contain privileged information. If you received it in error, please tell us and delete it.",
    "Please consider the environment before printing this e-mail.",
)
TICKET_HEADERS = ("[Ticket #{n}] submitted via web form", "Case {n} - via chat widget", "Request #{n} (priority: normal)",
                  "Conversation started from the Help Center (id {n})")
HANDLES = ("@support", "@helpdesk", "@AppSupport", "@TeamCare")
HASHTAGS = ("#fail", "#customerservice", "#help", "#annoyed", "#loveit", "#update", "#android", "#ios")
REPLY_HEADERS = ("On {day}, Support <support@example.com> wrote:", "-----Original Message-----\nFrom: Support Team\nSent: {day}",
                 "On {day} Customer Care wrote:")
DAYS = ("Mon, 3 Mar 2025 at 09:12", "Tuesday, June 10, 2025 4:41 PM", "Fri 14 Nov 2025, 18:03", "12/02/2025 11:20")

_WORD = re.compile(r"[A-Za-z]{4,}")


def greeting(text: str, rng: random.Random) -> str:
    return f"{rng.choice(GREETINGS)}\n\n{text}"


def sign_off(text: str, rng: random.Random) -> str:
    return f"{text}\n\n{rng.choice(SIGN_OFFS)}\n{rng.choice(NAMES)}"


def phone_footer(text: str, rng: random.Random) -> str:
    return f"{text}\n\n{rng.choice(FOOTERS)}"


def disclaimer(text: str, rng: random.Random) -> str:
    return f"{text}\n\n{rng.choice(DISCLAIMERS)}"


def ticket_header(text: str, rng: random.Random) -> str:
    return f"{rng.choice(TICKET_HEADERS).format(n=rng.randrange(10_000, 999_999))}\n{text}"


def social(text: str, rng: random.Random) -> str:
    tags = " ".join(rng.sample(HASHTAGS, rng.randint(1, 2)))
    return f"{rng.choice(HANDLES)} {text} {tags}"


def star_rating(text: str, rng: random.Random) -> str:
    stars = rng.randint(1, 5)
    return f"{'★' * stars}{'☆' * (5 - stars)} {text}"


def lower_case(text: str, rng: random.Random) -> str:  # noqa: ARG001 - same signature as the others
    return text.lower()


def typos(text: str, rng: random.Random) -> str:
    """Swap two neighbouring letters in one to three words of four letters or more."""
    words = list(_WORD.finditer(text))
    if not words:
        return text
    chars = list(text)
    for found in rng.sample(words, min(len(words), rng.randint(1, 3))):
        at = rng.randrange(found.start() + 1, found.end() - 2)
        chars[at], chars[at + 1] = chars[at + 1], chars[at]
    return "".join(chars)


def quoted_reply(text: str, rng: random.Random, earlier: str) -> str:
    """The message on top, an earlier message of the thread quoted below it (what a reply by
    e-mail looks like); the earlier message is any other training text."""
    quoted = "\n".join(f"> {line}" if line else ">" for line in earlier.splitlines())
    return f"{text}\n\n{rng.choice(REPLY_HEADERS).format(day=rng.choice(DAYS))}\n{quoted}"


Envelope = Callable[[str, random.Random], str]
ENVELOPES: tuple[Envelope, ...] = (greeting, sign_off, phone_footer, disclaimer, ticket_header, social, star_rating)
NOISE: tuple[Envelope, ...] = (lower_case, typos)


def augment_text(text: str, rng: random.Random, earlier: str) -> str:
    """One to three envelopes, sometimes a quoted earlier message, sometimes noise."""
    out = text
    for wrap in rng.sample(ENVELOPES, rng.randint(1, 3)):
        out = wrap(out, rng)
    if rng.random() < 0.3:
        out = quoted_reply(out, rng, earlier)
    if rng.random() < 0.3:
        out = rng.choice(NOISE)(out, rng)
    return out


def augment_examples(examples: Sequence[Example], share: float, seed: int) -> list[Example]:
    """Augmented copies of a ``share`` of ``examples`` (0 to 1; the originals are not included),
    chosen and wrapped reproducibly from ``seed``. Ids get an ``~aug`` suffix."""
    if not 0 <= share <= 1:
        raise ValueError(f"share must be between 0 and 1. But it was: {share}")
    rng = random.Random(seed)
    chosen = rng.sample(list(examples), round(len(examples) * share))
    out = []
    for example in chosen:
        earlier = rng.choice(examples).text
        out.append(Example(f"{example.id}~aug", augment_text(example.text, rng, earlier), example.label))
    return out
