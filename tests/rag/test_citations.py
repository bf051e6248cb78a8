import numpy as np

from rag.citations import attribute, marker_numbers
from rag.text import split_sentences
from tests.rag.helpers import hit

HITS = [
    hit("a", "Two explosions near the finish line of the Boston Marathon"),
    hit("b", "Police closed Boylston Street after the blasts"),
    hit("c", "Great pasta tonight"),
]


def test_markers_map_to_retrieved_posts_and_ignore_out_of_range():
    citations = attribute("Explosions hit the marathon [1][4]. Streets closed [2, 3].", HITS)
    assert [(c.hit.post.post_id, c.inferred) for c in citations] == [("a", False), ("b", False), ("c", False)]
    assert marker_numbers("see [9] and [0]", 3) == []


def test_unmarked_sentences_are_attributed_by_overlap():
    citations = attribute("There were explosions at the Boston Marathon finish line.", HITS)
    assert [(c.hit.post.post_id, c.inferred) for c in citations] == [("a", True)]


def test_unsupported_sentence_gets_no_citation():
    assert attribute("The weather is sunny in Paris.", HITS) == []


def test_explicit_marker_wins_over_inferred_for_same_post():
    citations = attribute("Explosions at the Boston Marathon finish line. Indeed [1].", HITS)
    assert [(c.hit.post.post_id, c.inferred) for c in citations] == [("a", False)]


def test_sentence_split():
    assert split_sentences("One. Two! Three?  ") == ["One.", "Two!", "Three?"]


def test_semantic_similarity_supports_a_paraphrase_without_shared_words():
    def similarity(sentences):
        assert sentences == ["The race ended in chaos."]
        return np.array([[0.62, 0.2, 0.05]])

    citations = attribute("The race ended in chaos.", HITS, similarity)
    assert [(c.hit.post.post_id, c.inferred) for c in citations] == [("a", True)]
    assert attribute("The race ended in chaos.", HITS, lambda s: np.array([[0.4, 0.2, 0.1]])) == []


def test_inferred_credit_goes_to_the_closest_supporters_only():
    sentence = "Explosions hit the Boston Marathon finish line."
    near = attribute(sentence, HITS, lambda s: np.array([[0.71, 0.64, 0.05]]))
    assert [c.hit.post.post_id for c in near] == ["a", "b"]  # within the margin: both support it
    far = attribute(sentence, HITS, lambda s: np.array([[0.71, 0.55, 0.05]]))
    assert [c.hit.post.post_id for c in far] == ["a"]  # b also passes the bar, but a supports it far better
