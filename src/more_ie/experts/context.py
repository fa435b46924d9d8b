"""Building an expert's input: the sentence, then ``[X]``, then the retrieved texts in rank order.

The input is cut to the encoder's subtoken limit by dropping retrieved text from the end; the
sentence itself is never cut (a sentence that alone exceeds the limit is an error naming it).
A word is represented by its first subtoken. A word with zero subtokens (a token made only of
U+FE0F, U+200B, ... which the tokenizer erases) is given the tokenizer's unknown token, so it
still has a position, a representation and a label. For RE the subject and object are wrapped
in ``<S> ... </S>`` and ``<O> ... </O>``; their representations are the ``<S>`` and ``<O>``
marker tokens (PURE).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from more_ie.experts.encoder import CONTEXT_SEPARATOR


class ContextError(ValueError):
    pass


@dataclass
class EncodedInput:
    input_ids: list[int]
    word_starts: list[int]  # position of each word's first subtoken (NER)
    marker_positions: tuple[int, int] | None = None  # positions of <S> and <O> (RE)
    context_subtokens: int = 0  # how much retrieved text survived the cut


class InputBuilder:
    def __init__(self, tokenizer, max_subtokens: int):  # type: ignore[no-untyped-def]
        self.tokenizer = tokenizer
        self.max_subtokens = min(
            max_subtokens, getattr(tokenizer, "model_max_length", max_subtokens) or max_subtokens
        )
        self.separator_id = tokenizer.convert_tokens_to_ids(CONTEXT_SEPARATOR)
        self._cache: dict[str, list[int]] = {}

    def _word_ids(self, word: str) -> list[int]:
        ids = self._cache.get(word)
        if ids is None:
            ids = self.tokenizer(word, add_special_tokens=False)["input_ids"] or [self.tokenizer.unk_token_id]
            if len(self._cache) < 200_000:
                self._cache[word] = ids
        return ids

    def _wrap(self, body: list[int]) -> tuple[list[int], int]:
        """Add the model's special tokens (e.g. [CLS] ... [SEP]); return ids and body offset."""
        cls = [self.tokenizer.cls_token_id] if self.tokenizer.cls_token_id is not None else []
        sep = [self.tokenizer.sep_token_id] if self.tokenizer.sep_token_id is not None else []
        return cls + body + sep, len(cls)

    def _with_context(
        self, sentence: list[int], contexts: Sequence[str], where: str
    ) -> tuple[list[int], int]:
        budget = self.max_subtokens - len(self._wrap([])[0])
        if len(sentence) > budget:
            raise ContextError(
                f"{where}: the sentence alone has {len(sentence)} subtokens, over the limit {budget}"
            )
        body = list(sentence)
        used = 0
        if contexts and len(body) + 1 < budget:
            body.append(self.separator_id)
            for text in contexts:
                room = budget - len(body)
                if room <= 0:
                    break
                ids = self.tokenizer(text, add_special_tokens=False)["input_ids"][:room]
                body += ids
                used += len(ids)
        return body, used

    def ner(self, words: Sequence[str], contexts: Sequence[str] = (), where: str = "sample") -> EncodedInput:
        sentence: list[int] = []
        starts: list[int] = []
        for word in words:
            starts.append(len(sentence))
            sentence += self._word_ids(word)
        body, used = self._with_context(sentence, contexts, where)
        ids, offset = self._wrap(body)
        return EncodedInput(ids, [offset + s for s in starts], context_subtokens=used)

    def re(
        self,
        words: Sequence[str],
        head: tuple[int, int],
        tail: tuple[int, int],
        contexts: Sequence[str] = (),
        where: str = "sample",
    ) -> EncodedInput:
        marker = {name: self.tokenizer.convert_tokens_to_ids(name) for name in ("<S>", "</S>", "<O>", "</O>")}
        sentence: list[int] = []
        s_pos = o_pos = -1
        for i, word in enumerate(words):
            if i == head[0]:
                s_pos = len(sentence)
                sentence.append(marker["<S>"])
            if i == tail[0]:
                o_pos = len(sentence)
                sentence.append(marker["<O>"])
            sentence += self._word_ids(word)
            if i == head[1] - 1:
                sentence.append(marker["</S>"])
            if i == tail[1] - 1:
                sentence.append(marker["</O>"])
        if s_pos < 0 or o_pos < 0:
            raise ContextError(f"{where}: entity span outside the {len(words)} words")
        body, used = self._with_context(sentence, contexts, where)
        ids, offset = self._wrap(body)
        return EncodedInput(ids, [], (offset + s_pos, offset + o_pos), used)
