from rag.verify import verify
from tests.rag.helpers import hit

HITS = [
    hit("a", "Two explosions near the finish line of the Boston Marathon"),
    hit("b", 'Police: "stay away from Boylston Street" after the blasts'),
    hit("c", "Great pasta tonight"),
]
LIVE = {h.post.post_id: h.post for h in HITS}


def test_valid_markers_are_kept_and_out_of_range_ones_removed_and_reported():
    result = verify("Explosions hit the marathon [1][7].", HITS, LIVE.get)
    assert [(c.hit.post.post_id, c.inferred) for c in result.citations] == [("a", False)]
    assert [(u.number, u.post_id, u.reason) for u in result.unsupported_citations] == [
        (7, None, "not_retrieved")
    ]


def test_a_post_deleted_after_retrieval_is_not_cited_even_when_marked():
    live = {"b": LIVE["b"], "c": LIVE["c"]}  # "a" was deleted between retrieval and answer
    result = verify("There were explosions at the Boston Marathon finish line [1].", HITS, live.get)
    assert result.citations == []
    assert [(u.post_id, u.reason) for u in result.unsupported_citations] == [("a", "not_live")]
    # the overlap fallback must not bring the deleted post back either
    assert result.unsupported_sentences == ["There were explosions at the Boston Marathon finish line [1]."]


def test_citations_carry_the_post_as_the_index_holds_it_now():
    edited = LIVE["a"].__class__(
        post_id="a", text="Explosions at the Boston Marathon finish line", author="a2", created_at=1
    )
    result = verify("Explosions at the marathon finish line [1].", HITS, {"a": edited}.get)
    assert result.citations[0].hit.post.author == "a2"


def test_quoted_text_must_appear_in_the_cited_post():
    kept = verify('Police said "stay away from Boylston Street" [2].', HITS, LIVE.get)
    assert [c.hit.post.post_id for c in kept.citations] == ["b"] and not kept.unsupported_citations
    wrong = verify('Police said "stay away from Boylston Street" [1].', HITS, LIVE.get)
    assert [(u.number, u.reason) for u in wrong.unsupported_citations] == [(1, "quote_not_in_post")]
    # the sentence is then attributed to the post that does contain the quote
    assert [(c.hit.post.post_id, c.inferred) for c in wrong.citations] == [("b", True)]
    invented = verify('Police said "everyone is safe at Boylston Street".', HITS, LIVE.get)
    assert invented.citations == [] and len(invented.unsupported_sentences) == 1


def test_unmarked_sentences_are_inferred_or_flagged_unsupported():
    result = verify(
        "Explosions at the Boston Marathon finish line. The weather is sunny in Paris.", HITS, LIVE.get
    )
    assert [(c.hit.post.post_id, c.inferred) for c in result.citations] == [("a", True)]
    assert result.unsupported_sentences == ["The weather is sunny in Paris."]


def test_a_flagged_post_is_never_cited_and_a_sentence_only_it_supports_is_reported():
    result = verify(
        "Explosions near the Boston Marathon finish line [1]. Stay away from Boylston Street [2].",
        HITS,
        LIVE.get,
        untrusted={"b"},
    )
    assert [(c.hit.post.post_id, c.inferred) for c in result.citations] == [("a", False)]
    assert [(u.number, u.post_id, u.reason) for u in result.unsupported_citations] == [
        (2, "b", "flagged_post")
    ]
    assert result.flagged_support == ["Stay away from Boylston Street [2]."]
    assert result.unsupported_sentences == []
    # without screening the same post supports it
    assert verify("Stay away from Boylston Street.", HITS, LIVE.get).flagged_support == []


def test_a_doubted_post_is_not_credited_by_inference_but_a_marker_may_cite_it():
    inferred = verify("Stay away from Boylston Street after the blasts.", HITS, LIVE.get, uncredited={"b"})
    assert inferred.citations == []
    assert inferred.unsupported_sentences == ["Stay away from Boylston Street after the blasts."]
    assert inferred.flagged_support == []  # not flagged: the sentence stays, reported as unsupported
    marked = verify("Stay away from Boylston Street [2].", HITS, LIVE.get, uncredited={"b"})
    assert [(c.hit.post.post_id, c.inferred) for c in marked.citations] == [("b", False)]
