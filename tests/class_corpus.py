"""Hand-ins of the course's notebooks written the way students write them, for the similarity
flags of `kws report` and for the grader: independent, correct, textbook solutions of every TODO
region, and planted copies (renamed, reordered, commented) of the reference and of each other.

A hand-in is the released notebook (assignments/) with each TODO of its model cells replaced by
a student's code: `REGIONS` names the TODOs by the first words of their hint, and a student's
`fills` map those names to code (indented as it stands in the cell). Notebook 02's four students
(A-D) wrote all eleven regions without seeing solutions/: A step by step, B compactly with the
skeleton's helpers, C head by head and with einsum, D from the skeleton's docstrings alone.
Notebook 01's three (A-C) wrote Task 1 and the recipe (`report_helpers.TASK1`, `RECIPES`) and
the model cell's ConvTokenizer and KeywordTransformer.forward.

    write_speaker_handin(folder, SPEAKER["A"])          # folder/02_speaker_id.ipynb
    write_keyword_handin(folder, "B")                   # folder/01_keyword_spotting.ipynb
    solution_fills("02_speaker_id.ipynb")               # the reference's regions, as fills
"""

import re
from pathlib import Path

import nbformat
from report_helpers import RECIPES, TASK1

ROOT = Path(__file__).resolve().parents[1]
SPEAKER_NOTEBOOK = "02_speaker_id.ipynb"
KEYWORD_NOTEBOOK = "01_keyword_spotting.ipynb"
_TODO = re.compile(
    r"^(?P<indent>[ \t]*)# TODO: (?P<hint>.*)\n[ \t]*raise NotImplementedError\(.*\)$", re.M
)
_REGION = re.compile(
    r"^[ \t]*# BEGIN SOLUTION: (?P<hint>[^\n]*)\n(?P<code>.*?)^[ \t]*# END SOLUTION[ \t]*$",
    re.M | re.S,
)

# Each TODO region of the two notebooks' model cells, by the first words of its hint.
REGIONS = {
    SPEAKER_NOTEBOOK: [
        "project x to queries",
        "the attention block and the feed-forward block",
        "run every layer in turn",
        "encode, average the valid frames",
        "the convolution module",
        "the four residual sub-blocks",
        "a normalization layer for the pooled vector",
        "normalize the pooled vector",
        "one score per frame",
        "cosines between the unit-length embeddings",
        "subtract the margin",
    ],
    KEYWORD_NOTEBOOK: [
        "keep every keyword clip",  # Task 1's cell: students' own in report_helpers.TASK1
        "for each window pick",
        "build the stem",
        "convolve (zeroing padded frames first)",
        "zero samples past each length",
    ],
}

# ---- notebook 02: four students ---------------------------------------------------------------

SPEAKER = {
    "A": {
        "project x to queries": """\
        qkv = x @ self.in_proj_weight.t() + self.in_proj_bias  # (B, T, 3D)
        q, k, v = qkv.split(D, dim=2)

        def heads(t):
            return t.reshape(B, T, self.nhead, self.head_dim).permute(0, 2, 1, 3)

        q, k, v = heads(q), heads(k), heads(v)  # (B, H, T, hd)
        att = torch.matmul(q, k.transpose(2, 3)) * self.head_dim**-0.5  # (B, H, T, T)
        if key_padding_mask is not None:
            att = att.masked_fill(key_padding_mask.view(B, 1, 1, T), float("-inf"))
        att = torch.softmax(att, dim=3)
        att = self.dropout(att)
        out = torch.matmul(att, v).permute(0, 2, 1, 3).reshape(B, T, D)
        return self.out_proj(out)""",
        "the attention block and the feed-forward block": """\
        if not self.norm_first:
            a = self.self_attn(x, key_padding_mask)
            x = self.norm1(x + self.dropout1(a))
            f = self.linear2(self.dropout(F.relu(self.linear1(x))))
            x = self.norm2(x + self.dropout2(f))
        else:
            a = self.self_attn(self.norm1(x), key_padding_mask)
            x = x + self.dropout1(a)
            f = self.linear2(self.dropout(F.relu(self.linear1(self.norm2(x)))))
            x = x + self.dropout2(f)
        return x""",
        "run every layer in turn": """\
        out = x
        for i in range(len(self.layers)):
            out = self.layers[i](out, key_padding_mask=key_padding_mask)
        return out""",
        "encode, average the valid frames": """\
        enc = self.encoder(self.prenet(x), key_padding_mask=padding)
        keep = (~padding).unsqueeze(-1).to(enc.dtype)
        mean = (enc * keep).sum(1) / keep.sum(1)
        return self.classifier(mean)""",
        "the convolution module": """\
        y = self.layer_norm(x)
        y = y.transpose(1, 2)  # (B, D, T)
        y = self.pointwise_conv1(y)
        half = y.shape[1] // 2
        y = y[:, :half] * torch.sigmoid(y[:, half:])  # GLU
        if padding is not None:
            y = y * (~padding).unsqueeze(1)
        y = self.depthwise_conv(y)
        y = self.norm(y)
        y = y * torch.sigmoid(y)  # SiLU
        y = self.pointwise_conv2(y)
        return self.dropout(y.transpose(1, 2))""",
        "the four residual sub-blocks": """\
        x = x + self.ffn1(x) / 2
        attn_in = self.self_attn_layer_norm(x)
        x = x + self.self_attn_dropout(self.self_attn(attn_in, key_padding_mask))
        x = x + self.conv_module(x, key_padding_mask)
        x = x + self.ffn2(x) / 2
        x = self.final_layer_norm(x)
        return x""",
        "a normalization layer for the pooled vector": """\
        self.pooled_norm = nn.BatchNorm1d(d_model)
        self.fc = nn.Linear(d_model, n_classes)""",
        "normalize the pooled vector": """\
        return self.fc(self.pooled_norm(pooled))""",
        "one score per frame": """\
        e = self.score(h).squeeze(2)  # (B, T)
        e = e.masked_fill(padding, -float("inf"))
        a = F.softmax(e, dim=1)
        return torch.bmm(a.unsqueeze(1), h).squeeze(1)  # (B, D)""",
        "cosines between the unit-length embeddings": """\
        e = embedding / embedding.norm(dim=1, keepdim=True).clamp_min(1e-12)
        w = self.weight / self.weight.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return e @ w.t()""",
        "subtract the margin": """\
    onehot = torch.zeros_like(cosines)
    onehot[torch.arange(len(labels)), labels] = 1.0
    logits = scale * (cosines - margin * onehot)
    return F.cross_entropy(logits, labels)""",
    },
    "B": {
        "project x to queries": """\
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(B, T, 3, self.nhead, self.head_dim).permute(2, 0, 3, 1, 4)
        s = (q @ k.transpose(-1, -2)) / self.head_dim**0.5
        if key_padding_mask is not None:
            s = s.masked_fill(key_padding_mask[:, None, None], float("-inf"))
        p = self.dropout(s.softmax(-1))
        return self.out_proj((p @ v).transpose(1, 2).flatten(2))""",
        "the attention block and the feed-forward block": """\
        if self.norm_first:
            x = x + self._attention(self.norm1(x), key_padding_mask)
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(x + self._attention(x, key_padding_mask))
        return self.norm2(x + self._feed_forward(x))""",
        "run every layer in turn": """\
        for layer in self.layers:
            x = layer(x, key_padding_mask)
        return x""",
        "encode, average the valid frames": """\
        h = self.encoder(self.prenet(x), padding)
        h = h * (~padding)[..., None]
        return self.classifier(h.sum(1) / lengths[:, None])""",
        "the convolution module": """\
        x = self.layer_norm(x)
        x = F.glu(self.pointwise_conv1(x.transpose(1, 2)), dim=1)
        if padding is not None:
            x = x.masked_fill(padding.unsqueeze(1), 0)
        x = F.silu(self.norm(self.depthwise_conv(x)))
        x = self.dropout(self.pointwise_conv2(x))
        return x.transpose(1, 2)""",
        "the four residual sub-blocks": """\
        x = x + 0.5 * self.ffn1(x)
        h = self.self_attn_layer_norm(x)
        h = self.self_attn(h, key_padding_mask)
        x = x + self.self_attn_dropout(h)
        x = x + self.conv_module(x, key_padding_mask)
        return self.final_layer_norm(x + 0.5 * self.ffn2(x))""",
        "a normalization layer for the pooled vector": """\
        self.norm = nn.BatchNorm1d(d_model)
        self.classifier = nn.Linear(d_model, n_classes)""",
        "normalize the pooled vector": """\
        return self.classifier(self.norm(pooled))""",
        "one score per frame": """\
        w = self.score(h).squeeze(-1)
        w = w.masked_fill(padding, float("-inf")).softmax(dim=-1)
        return (w.unsqueeze(-1) * h).sum(1)""",
        "cosines between the unit-length embeddings": """\
        return F.normalize(embedding, dim=1) @ F.normalize(self.weight, dim=1).t()""",
        "subtract the margin": """\
    logits = cosines.clone()
    rows = torch.arange(cosines.size(0))
    logits[rows, labels] -= margin
    return F.cross_entropy(scale * logits, labels)""",
    },
    "C": {
        "project x to queries": """\
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        heads = []
        for i in range(self.nhead):
            part = slice(i * self.head_dim, (i + 1) * self.head_dim)
            q = F.linear(x, w_q[part], b_q[part])  # (B, T, hd)
            k = F.linear(x, w_k[part], b_k[part])
            v = F.linear(x, w_v[part], b_v[part])
            a = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(self.head_dim)  # (B, T, T)
            if key_padding_mask is not None:
                a = a.masked_fill(key_padding_mask.unsqueeze(1), -1e9)
            heads.append(torch.bmm(self.dropout(torch.softmax(a, dim=-1)), v))
        return self.out_proj(torch.cat(heads, dim=-1))""",
        "the attention block and the feed-forward block": """\
        def ff(t):
            return self.dropout2(self.linear2(self.dropout(torch.relu(self.linear1(t)))))

        def sa(t):
            return self.dropout1(self.self_attn(t, key_padding_mask))

        if self.norm_first:
            x = x + sa(self.norm1(x))
            x = x + ff(self.norm2(x))
        else:
            x = self.norm1(x + sa(x))
            x = self.norm2(x + ff(x))
        return x""",
        "run every layer in turn": """\
        h = x
        for block in self.layers:
            h = block(h, key_padding_mask)
        return h""",
        "encode, average the valid frames": """\
        out = self.encoder(self.prenet(x), padding)  # (B, T, D)
        summed = torch.einsum("btd,bt->bd", out, (~padding).to(out.dtype))
        return self.classifier(summed / lengths.unsqueeze(1).to(out.dtype))""",
        "the convolution module": """\
        z = self.layer_norm(x).permute(0, 2, 1)
        z = self.pointwise_conv1(z)
        a, b = z.chunk(2, dim=1)
        z = a * b.sigmoid()
        if padding is not None:
            z = torch.where(padding[:, None, :], torch.zeros_like(z), z)
        z = self.depthwise_conv(z)
        z = F.silu(self.norm(z))
        z = self.pointwise_conv2(z)
        z = self.dropout(z)
        return z.permute(0, 2, 1)""",
        "the four residual sub-blocks": """\
        residual = x
        x = residual + 0.5 * self.ffn1(x)
        residual = x
        x = self.self_attn(self.self_attn_layer_norm(x), key_padding_mask)
        x = residual + self.self_attn_dropout(x)
        residual = x
        x = residual + self.conv_module(x, key_padding_mask)
        residual = x
        x = residual + 0.5 * self.ffn2(x)
        return self.final_layer_norm(x)""",
        "a normalization layer for the pooled vector": """\
        self.bn = nn.BatchNorm1d(d_model)
        self.out = nn.Linear(d_model, n_classes)""",
        "normalize the pooled vector": """\
        return self.out(self.bn(pooled))""",
        "one score per frame": """\
        logits = self.score(h).squeeze(-1)
        logits = torch.where(padding, torch.full_like(logits, float("-inf")), logits)
        alpha = torch.exp(logits - logits.max(dim=1, keepdim=True).values)
        alpha = alpha / alpha.sum(dim=1, keepdim=True)
        return torch.einsum("bt,btd->bd", alpha, h)""",
        "cosines between the unit-length embeddings": """\
        unit_e = F.normalize(embedding, p=2, dim=-1)
        unit_w = F.normalize(self.weight, p=2, dim=-1)
        return torch.matmul(unit_e, unit_w.transpose(0, 1))""",
        "subtract the margin": """\
    target = F.one_hot(labels, num_classes=cosines.size(1)).bool()
    adjusted = torch.where(target, cosines - margin, cosines)
    return F.cross_entropy(adjusted * scale, labels)""",
    },
    "D": {
        "project x to queries": """\
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q = qkv[..., :D].reshape(B, T, self.nhead, self.head_dim).transpose(1, 2)
        k = qkv[..., D : 2 * D].reshape(B, T, self.nhead, self.head_dim).transpose(1, 2)
        v = qkv[..., 2 * D :].reshape(B, T, self.nhead, self.head_dim).transpose(1, 2)
        scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(self.head_dim)
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        attn = self.dropout(F.softmax(scores, dim=-1))
        context = torch.einsum("bhqk,bhkd->bhqd", attn, v)
        return self.out_proj(context.transpose(1, 2).reshape(B, T, D))""",
        "the attention block and the feed-forward block": """\
        if self.norm_first:
            y = self.norm1(x)
            x = x + self.dropout1(self.self_attn(y, key_padding_mask))
            y = self.norm2(x)
            y = self.linear2(self.dropout(F.relu(self.linear1(y))))
            x = x + self.dropout2(y)
        else:
            y = self.dropout1(self.self_attn(x, key_padding_mask))
            x = self.norm1(x + y)
            y = self.linear2(self.dropout(F.relu(self.linear1(x))))
            x = self.norm2(x + self.dropout2(y))
        return x""",
        "run every layer in turn": """\
        for layer in self.layers:
            x = layer(x, key_padding_mask=key_padding_mask)
        return x""",
        "encode, average the valid frames": """\
        h = self.prenet(x)
        h = self.encoder(h, key_padding_mask=padding)
        h = torch.where(padding.unsqueeze(-1), torch.zeros_like(h), h)
        pooled = h.sum(dim=1) / lengths.unsqueeze(-1)
        return self.classifier(pooled)""",
        "the convolution module": """\
        out = self.layer_norm(x)
        out = out.transpose(1, 2)
        out = self.pointwise_conv1(out)
        out = F.glu(out, dim=1)
        if padding is not None:
            out = out.masked_fill(padding.unsqueeze(1), 0.0)
        out = self.depthwise_conv(out)
        out = self.norm(out)
        out = F.silu(out)
        out = self.pointwise_conv2(out)
        out = self.dropout(out)
        return out.transpose(1, 2)""",
        "the four residual sub-blocks": """\
        x = x + 0.5 * self.ffn1(x)
        y = self.self_attn(self.self_attn_layer_norm(x), key_padding_mask)
        x = x + self.self_attn_dropout(y)
        x = x + self.conv_module(x, key_padding_mask)
        x = x + 0.5 * self.ffn2(x)
        return self.final_layer_norm(x)""",
        "a normalization layer for the pooled vector": """\
        self.norm = nn.BatchNorm1d(d_model)
        self.classifier = nn.Linear(d_model, n_classes)""",
        "normalize the pooled vector": """\
        return self.classifier(self.norm(pooled))""",
        "one score per frame": """\
        scores = self.score(h).squeeze(-1)
        scores = scores.masked_fill(padding, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        return torch.sum(weights.unsqueeze(-1) * h, dim=1)""",
        "cosines between the unit-length embeddings": """\
        return F.normalize(embedding, dim=-1) @ F.normalize(self.weight, dim=-1).t()""",
        "subtract the margin": """\
    one_hot = F.one_hot(labels, cosines.size(-1)).to(cosines.dtype)
    logits = scale * (cosines - margin * one_hot)
    return F.cross_entropy(logits, labels)""",
    },
}
# The sub-modules each student's SpeakerConformer names its own way (their checkpoints' keys).
SPEAKER_KEYS = {
    "A": {"norm": "pooled_norm", "classifier": "fc"},
    "C": {"norm": "bn", "classifier": "out"},
}

# ---- notebook 01: three students (Task 1 and the recipe: report_helpers) ------------------------

KEYWORD = {
    "A": {
        "build the stem": """\
        self.conv1 = nn.Conv2d(1, channels, kernel_size=3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)
        reduced = (n_mels + 1) // 2
        reduced = (reduced + 1) // 2  # mel bins left after two stride-2 convolutions
        self.linear = nn.Linear(channels * reduced, d_model)""",
        "convolve (zeroing padded frames first)": """\
        x = features.unsqueeze(1)  # (B, 1, T, F)
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2)):
            time = x.shape[2]
            valid = torch.arange(time, device=x.device)[None, :] < lengths[:, None]
            x = x * valid[:, None, :, None]
            x = torch.relu(bn(conv(x)))
            lengths = (lengths + 1) // 2
        b, c, t, f = x.shape
        x = x.transpose(1, 2).reshape(b, t, c * f)
        return self.linear(x), lengths""",
        "zero samples past each length": """\
        batch, n_samples = waves.shape
        if lengths is None:
            lengths = torch.full((batch,), n_samples, device=waves.device)
        keep = torch.arange(n_samples, device=waves.device)[None, :] < lengths[:, None]
        waves = waves * keep
        feats = self.frontend(waves)
        feats = self.specaugment(feats)
        tokens, n_tokens = self.tokenizer(feats, self.frontend.num_frames(lengths))
        cls = self.cls_token.repeat(batch, 1, 1)
        seq = torch.cat((cls, tokens), dim=1)
        seq = seq + self.position[:, : seq.shape[1], :]
        pad = torch.arange(seq.shape[1], device=seq.device)[None, :] >= (n_tokens + 1)[:, None]
        out = self.encoder(seq, src_key_padding_mask=pad)
        return self.classifier(self.norm(out[:, 0, :]))""",
    },
    "B": {
        "build the stem": """\
        def block(cin):
            conv = nn.Conv2d(cin, channels, 3, stride=2, padding=1)
            return nn.Sequential(conv, nn.BatchNorm2d(channels), nn.GELU())

        self.stem = nn.ModuleList([block(1), block(channels)])
        self.out = nn.Linear(channels * -(-n_mels // 4), d_model)""",
        "convolve (zeroing padded frames first)": """\
        x = features[:, None]  # (B, 1, T, F)
        for stage in self.stem:
            mask = lengths_to_mask(lengths, x.shape[2])  # True = padded
            x = stage(x.masked_fill(mask[:, None, :, None], 0))
            lengths = torch.div(lengths + 1, 2, rounding_mode="floor")
        x = x.permute(0, 2, 1, 3).flatten(2)  # (B, N, C * F')
        return self.out(x), lengths""",
        "zero samples past each length": """\
        if lengths is None:
            lengths = waves.new_full((waves.size(0),), waves.size(1), dtype=torch.long)
        waves = waves.masked_fill(lengths_to_mask(lengths, waves.size(1)), 0.0)
        x = self.specaugment(self.frontend(waves))
        x, token_lengths = self.tokenizer(x, lengths // 160 + 1)
        cls = self.cls_token.expand(x.size(0), 1, -1)
        x = torch.cat([cls, x], 1) + self.position[:, : x.size(1) + 1]
        x = self.encoder(x, src_key_padding_mask=lengths_to_mask(token_lengths + 1, x.size(1)))
        return self.classifier(self.norm(x[:, 0]))""",
    },
    "C": {
        "build the stem": """\
        self.layers = nn.Sequential(
            nn.Conv2d(1, channels // 2, 3, 2, 1),
            nn.ReLU(),
            nn.BatchNorm2d(channels // 2),
            nn.Conv2d(channels // 2, channels, 3, 2, 1),
            nn.ReLU(),
            nn.BatchNorm2d(channels),
        )
        self.to_model = nn.Linear(channels * ((n_mels + 3) // 4), d_model)""",
        "convolve (zeroing padded frames first)": """\
        x = features.unsqueeze(1)
        t_len = lengths
        for i in (0, 3):
            pad = torch.arange(x.size(2), device=x.device) >= t_len[:, None]  # (B, T)
            x = x.masked_fill(pad[:, None, :, None], 0.0)
            x = self.layers[i + 2](self.layers[i + 1](self.layers[i](x)))
            t_len = (t_len - 1) // 2 + 1
        x = x.transpose(1, 2)  # (B, N, C, F')
        x = x.reshape(x.size(0), x.size(1), -1)
        return self.to_model(x), t_len""",
        "zero samples past each length": """\
        B = waves.shape[0]
        if lengths is None:
            lengths = torch.tensor([waves.shape[1]] * B, device=waves.device)
        sample_pad = lengths_to_mask(lengths, waves.shape[1])
        mel = self.frontend(torch.where(sample_pad, torch.zeros_like(waves), waves))
        mel = self.specaugment(mel)
        frames = self.frontend.num_frames(lengths)
        tok, tok_len = self.tokenizer(mel, frames)
        N = tok.shape[1]
        h = torch.cat([self.cls_token.expand(B, -1, -1), tok], dim=1)
        h = h + self.position[:, : N + 1]
        key_pad = lengths_to_mask(tok_len + 1, N + 1)
        h = self.encoder(h, src_key_padding_mask=key_pad)
        cls_vec = self.norm(h[:, 0])
        return self.classifier(cls_vec)""",
    },
}


# ---- writing hand-ins ---------------------------------------------------------------------------


def _key(notebook: str, hint: str) -> str:
    (key,) = [k for k in REGIONS[notebook] if hint.startswith(k)]
    return key


def solution_fills(notebook: str) -> dict[str, str]:
    """The reference solution's code of each region of `notebook`'s model cells, as fills."""
    nb = nbformat.read(ROOT / "solutions" / notebook, as_version=4)
    fills = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and "model" in cell.metadata.get("tags", []):
            for region in _REGION.finditer(cell.source):
                fills[_key(notebook, region["hint"])] = region["code"].rstrip("\n")
    assert sorted(fills) == sorted(REGIONS[notebook]), sorted(fills)
    return fills


def filled_cells(notebook: str, fills: dict[str, str]) -> nbformat.NotebookNode:
    """The released `notebook` with each TODO of its model cells replaced by its fill (a TODO
    without one is left as released)."""
    nb = nbformat.read(ROOT / "assignments" / notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "model" in cell.metadata.get("tags", []):

            def fill(todo: re.Match) -> str:
                code = fills.get(_key(notebook, todo["hint"]))
                return todo[0] if code is None else code

            cell.source = _TODO.sub(fill, cell.source)
    return nb


def write_speaker_handin(folder: Path, fills: dict[str, str]) -> Path:
    """`folder/02_speaker_id.ipynb`: the released notebook 02 with `fills` in its TODOs."""
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(filled_cells(SPEAKER_NOTEBOOK, fills), folder / SPEAKER_NOTEBOOK)
    return folder


def _cell_defining(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.cell_type == "code" and f"def {name}(" in c.source)


def write_keyword_handin(folder: Path, student: str, fills: dict[str, str] | None = None) -> Path:
    """`folder/01_keyword_spotting.ipynb`: the released notebook 01 with `student`'s Task 1 cell,
    recipe cell and model-cell regions (`fills`, default `KEYWORD[student]`)."""
    nb = filled_cells(KEYWORD_NOTEBOOK, KEYWORD[student] if fills is None else fills)
    _cell_defining(nb, "twelve_class_labels").source = TASK1[student]
    _cell_defining(nb, "learning_rate_factor").source = RECIPES[student]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / KEYWORD_NOTEBOOK)
    return folder


# ---- planted copies -----------------------------------------------------------------------------


def renamed(fills: dict[str, str], names: dict[str, str]) -> dict[str, str]:
    """`fills` with each local name of `names` replaced (whole words, not after a dot, not a
    keyword argument's name inside a call): what a copier does first."""
    pattern = re.compile(r"(?<![.\w])(" + "|".join(map(re.escape, names)) + r")\b")

    def swap(match: re.Match) -> str:
        before, after = match.string[: match.start()], match.string[match.end() :]
        inside_call = before.count("(") > before.count(")")
        keyword = inside_call and re.match(r"\s*=(?!=)", after)
        return match[0] if keyword else names[match[1]]

    return {key: pattern.sub(swap, code) for key, code in fills.items()}


def commented(fills: dict[str, str]) -> dict[str, str]:
    """`fills` with their comments replaced by others, and blank lines added after the first
    line of each region."""
    out = {}
    for key, code in fills.items():
        lines = [re.sub(r"\s+#.*$", "", line) for line in code.splitlines()]
        indent = re.match(r"\s*", lines[0])[0]
        out[key] = "\n".join([f"{indent}# my solution: {key}", lines[0], "", *lines[1:]])
    return out


def edited(fills: dict[str, str], edits: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    """`fills` with, per region, each (old, new) replaced once: a copier's own touches."""
    out = dict(fills)
    for key, pairs in edits.items():
        for old, new in pairs:
            assert out[key].count(old) == 1, f"{old!r} not once in {key!r}"
            out[key] = out[key].replace(old, new)
    return out


def reordered(fills: dict[str, str], swaps: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    """`fills` with, per region, each pair of consecutive independent lines (first, second)
    swapped; every pair must be found exactly once."""
    out = dict(fills)
    for key, pairs in swaps.items():
        for first, second in pairs:
            together = f"{first}\n{second}"
            assert out[key].count(together) == 1, f"{together!r} not once in {key!r}"
            out[key] = out[key].replace(together, f"{second}\n{first}")
    return out


# ---- classes ------------------------------------------------------------------------------------

# The names a copier renames in notebook 02's regions: names the regions bind themselves (the
# skeleton's arguments and the locals it computes outside the regions keep theirs).
REFERENCE_RENAMES = {
    "q": "query",
    "k": "key",
    "v": "value",
    "scores": "logits",
    "weights": "probs",
    "y": "merged",
    "margins": "shift",
    "layer": "block",
}
A_RENAMES = {
    "qkv": "packed",
    "heads": "split_heads",
    "att": "attn_map",
    "out": "res",
    "a": "att_out",
    "f": "ff_out",
    "enc": "encoded",
    "keep": "valid",
    "mean": "avg",
    "half": "n_half",
    "attn_in": "normed",
    "e": "energy",
    "w": "wgt",
    "onehot": "target",
    "logits": "z",
}
REFERENCE_SWAPS = {
    "project x to queries": [
        (
            "        q = q.view(B, T, self.nhead, self.head_dim).transpose(1, 2)  # (B, H, T, hd)",
            "        k = k.view(B, T, self.nhead, self.head_dim).transpose(1, 2)  # (B, H, T, hd)",
        )
    ]
}
C_SWAPS = {
    "project x to queries": [
        (
            "            q = F.linear(x, w_q[part], b_q[part])  # (B, T, hd)",
            "            k = F.linear(x, w_k[part], b_k[part])",
        )
    ],
    "cosines between the unit-length embeddings": [
        (
            "        unit_e = F.normalize(embedding, p=2, dim=-1)",
            "        unit_w = F.normalize(self.weight, p=2, dim=-1)",
        )
    ],
}


# A copier's own touches: other expressions for the same numbers in a few places.
REFERENCE_EDITS = {
    "project x to queries": [
        ("/ math.sqrt(self.head_dim)", "* self.head_dim**-0.5"),
        ("scores.softmax(dim=-1)", "F.softmax(scores, dim=-1)"),
    ],
    "the convolution module": [("F.glu(self.pointwise_conv1(h), dim=1)", "F.glu(self.pointwise_conv1(h), 1)")],
    "subtract the margin": [("cosines.shape[1]", "cosines.size(1)")],
}  # fmt: skip
B_EDITS = {
    "encode, average the valid frames": [("h.sum(1) / lengths[:, None]", "h.sum(1) / lengths.unsqueeze(1)")],
    "the convolution module": [("x.masked_fill(padding.unsqueeze(1), 0)", "x * (~padding).unsqueeze(1)")],
    "one score per frame": [(".softmax(dim=-1)", ".softmax(dim=1)")],
}  # fmt: skip
KEYWORD_A_EDITS = {
    "convolve (zeroing padded frames first)": [("x = torch.relu(bn(conv(x)))", "x = F.relu(bn(conv(x)))")],
    "zero samples past each length": [("self.cls_token.repeat(batch, 1, 1)", "self.cls_token.expand(batch, -1, -1)")],
}  # fmt: skip


def speaker_class(submissions: Path) -> dict[str, str]:
    """Write a class of notebook-02 hand-ins into `submissions`; return {hand-in: what it is}:
    four independent students, four copies of the reference (verbatim, renamed, reordered and
    commented, edited in a few places) and copies of three students (renamed; edited; reordered
    and commented)."""
    reference = solution_fills(SPEAKER_NOTEBOOK)
    handins = {f"independent-{k}": (fills, f"independent {k}") for k, fills in SPEAKER.items()}
    handins |= {
        "reference-copy": (reference, "copy of the reference"),
        "reference-renamed": (renamed(reference, REFERENCE_RENAMES), "copy of the reference"),
        "reference-reordered": (
            commented(reordered(reference, REFERENCE_SWAPS)),
            "copy of the reference",
        ),
        "reference-edited": (edited(reference, REFERENCE_EDITS), "copy of the reference"),
        "copy-of-A": (renamed(SPEAKER["A"], A_RENAMES), "copy of independent-A"),
        "copy-of-B": (edited(SPEAKER["B"], B_EDITS), "copy of independent-B"),
        "copy-of-C": (commented(reordered(SPEAKER["C"], C_SWAPS)), "copy of independent-C"),
    }
    for name, (fills, _) in handins.items():
        write_speaker_handin(submissions / name, fills)
    return {name: kind for name, (_, kind) in handins.items()}


def keyword_class(submissions: Path) -> dict[str, str]:
    """Write a class of notebook-01 hand-ins: three independent students, a copy of the
    reference, and two copies of student A (its comments and layout changed; edited)."""
    import report_helpers

    kinds = {}
    for student in KEYWORD:
        write_keyword_handin(submissions / f"independent-{student}", student)
        kinds[f"independent-{student}"] = f"independent {student}"
    nb = filled_cells(KEYWORD_NOTEBOOK, solution_fills(KEYWORD_NOTEBOOK))
    task1, recipe = report_helpers.solution_cells()
    _cell_defining(nb, "twelve_class_labels").source = task1
    _cell_defining(nb, "learning_rate_factor").source = recipe
    (submissions / "reference-copy").mkdir(parents=True)
    nbformat.write(nb, submissions / "reference-copy" / KEYWORD_NOTEBOOK)
    kinds["reference-copy"] = "copy of the reference"
    write_keyword_handin(submissions / "copy-of-A", "A", commented(KEYWORD["A"]))
    kinds["copy-of-A"] = "copy of independent-A"
    write_keyword_handin(
        submissions / "edited-copy-of-A", "A", edited(KEYWORD["A"], KEYWORD_A_EDITS)
    )
    kinds["edited-copy-of-A"] = "copy of independent-A"
    return kinds
