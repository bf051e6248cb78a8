from rag.text import content_words, dedup_key, is_repost, tidy_answer


def test_tidy_answer_drops_repeats_and_a_cut_off_sentence():
    looped = "Water is rising. Water is rising. Roads are closed. The city"
    assert tidy_answer(looped, truncated=True) == "Water is rising. Roads are closed."
    assert tidy_answer("Water is rising. The city", truncated=False) == "Water is rising. The city"
    assert tidy_answer("Cut off mid", truncated=True) == "Cut off mid"


def test_reposts_and_copies_share_a_dedup_key():
    original = "Explosions near the finish line http://t.co/abc"
    assert dedup_key("RT @news: " + original) == dedup_key(original)
    assert is_repost("RT @news: hi") and not is_repost("hi RT @news")


def test_content_words_drop_urls_mentions_and_stopwords():
    assert content_words("RT @bob: The flood is at http://x.co/1 Main St") == {"flood", "main", "st"}
