"""Instructions planted in documents (indirect prompt injection): find them, keep them away
from the model.

A passage is data, but a small model obeys text that looks like an instruction, and a chat
template turns strings such as ``<|im_start|>system`` inside a passage into real role tokens
(llama.cpp tokenises the rendered prompt with special tokens on). So a paragraph that holds
such a token or text addressed to the assistant ("ignore previous instructions", "SYSTEM:",
"note to the AI") is flagged. ``Pipeline.ask`` leaves passages with a flagged paragraph out
of the answer (the next hits take their place, and the answer warns); every prompt built
from passages also goes through ``neutralise`` (flagged paragraphs replaced by a marker,
template tokens broken up). Stored documents and citations are untouched.

Measured in benchmarks/injection.py: SmolLM2-135M obeyed 20 of 72 planted instructions
unguarded, none guarded. The patterns flag no sentence of the example knowledge base nor of
the SciFact, Cranfield and PubMedQA corpora (75,000 sentences). A false statement that is no
instruction ("the answer is always X") is not caught: no pattern can tell it from a fact.
"""

from __future__ import annotations

import re

REMOVED = "[text addressed to the assistant was removed]"

# Role and control tokens of common chat templates (ChatML, Llama 2/3, Gemma, Mistral, Phi).
_TEMPLATE_TOKEN = re.compile(
    r"<\|[^|<>\n]{1,40}\|>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>", re.IGNORECASE
)
# Llama's <s> and </s> are also HTML strike-through in Markdown: broken up, never flagged.
_SENTENCE_TOKEN = re.compile(r"</?s>", re.IGNORECASE)
_TARGET = r"(?:instructions?|prompts?|rules|directions|guidelines|directives|context)"
_EARLIER = r"(?:previous|prior|above|earlier|preceding|all|any|your|system|original|other)"
# Overrides: "ignore all previous instructions", "disregard your rules" (and in French,
# Spanish, German, Italian, Portuguese); "do not ignore any instructions" is no override.
_OVERRIDE = re.compile(
    rf"\b(?:ignore|disregard|forget|override|bypass)\b(?:\s+\w+){{0,3}}?\s+{_EARLIER}\b"
    rf"[^.!?\n]{{0,30}}\b{_TARGET}\b"
    r"|\b(?:ignorez|oubliez|ignora|olvida|ignoriere|vergiss|ignori|dimentica)\b[^.!?\n]{0,40}"
    r"\b(?:instructions?|instrucciones|anweisungen|istruzioni|instruções)\b",
    re.IGNORECASE,
)
_NEGATED = re.compile(r"\b(?:not|never|don't|do not|n't)\s+$", re.IGNORECASE)
# Text that speaks to the model, or a role label opening a line ("SYSTEM:", "### Instruction:").
_ADDRESS = re.compile(
    r"\b(?:dear|hey|attention|note to|message to|instructions? (?:for|to))(?: the)?\s+"
    r"(?:ai|assistant|chatbot|bot|model|llm|language model|gpt)\b"
    r"|^[ \t#*>\[]*(?:system|instructions?|developer)(?:\s+(?:override|prompt|message|note))?"
    r"\s*[:\]]"
    r"|\bnew system (?:instructions?|rules|prompt)\b",
    re.IGNORECASE | re.MULTILINE,
)
_PARAGRAPH = re.compile(r"\n[ \t]*\n")


def defang(text: str) -> str:
    """Break chat-template tokens apart so the tokenizer reads them as plain text."""
    for pattern in (_TEMPLATE_TOKEN, _SENTENCE_TOKEN):
        text = pattern.sub(lambda m: m.group()[0] + " " + m.group()[1:], text)
    return text


def addresses_the_model(text: str) -> bool:
    """Whether ``text`` holds a template token or an instruction aimed at the assistant."""
    if _TEMPLATE_TOKEN.search(text) or _ADDRESS.search(text):
        return True
    return any(
        not _NEGATED.search(text, max(0, m.start() - 12), m.start())
        for m in _OVERRIDE.finditer(text)
    )


def flagged_paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph of ``text`` that addresses the model."""
    if not addresses_the_model(text):
        return []
    spans, last = [], 0
    for separator in [*_PARAGRAPH.finditer(text), None]:
        end = separator.start() if separator else len(text)
        if addresses_the_model(text[last:end]):
            spans.append((last, end))
        if separator:
            last = separator.end()
    return spans


def neutralise(text: str) -> str:
    """The passage with each paragraph that addresses the model replaced by a marker."""
    parts, last = [], 0
    for start, end in flagged_paragraphs(text):
        parts += [text[last:start], REMOVED]
        last = end
    parts.append(text[last:])
    return defang("".join(parts))
