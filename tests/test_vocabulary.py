from ie_env.data.vocabulary import load_vocabulary


def test_full_wordnet_noun_vocabulary():
    v = load_vocabulary()
    assert len(v) == 146_347
    assert v.n_synsets == 82_115
    assert len({lem.lower() for lem in v.lemmas}) == 117_798


def test_concept_fields_and_paper_text():
    v = load_vocabulary()
    i = next(i for i in v.find("golden retriever"))
    c = v[i]
    assert c.wnid == "n02099601" and c.synset == "golden_retriever.n.01"
    assert c.hypernym == "retriever"
    assert c.text.startswith("golden retriever (retriever): ")
    assert v.texts[i] == c.text


def test_synset_names_and_hypernym_closure():
    v = load_vocabulary()
    assert v.wnid("car.n.01") == "n02958343" and v.wnid("dog.n.01") == "n02084071"
    assert v.is_under("n02123045", v.wnid("cat.n.01"))  # tabby cat under cat
    assert not v.is_under("n02123045", v.wnid("dog.n.01"))
    assert v.wnid("entity.n.01") in v.ancestors("n04285008")


def test_subset_and_fingerprint():
    v = load_vocabulary()
    sub = v.subset([5, 10, 20])
    assert len(sub) == 3 and sub.lemmas[1] == v.lemmas[10]
    assert sub.fingerprint != v.fingerprint
    assert sub.subset([2]).lemmas == [v.lemmas[20]]


def test_empty_subset_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="empty"):
        load_vocabulary().subset([])


def test_find_orders_by_sense_frequency():
    v = load_vocabulary()
    assert [v[i].synset for i in v.find("Cat")][:2] == ["cat.n.01", "guy.n.01"]
    assert v[v.find("tabby")[0]].synset == "tabby.n.01"
