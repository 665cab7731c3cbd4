"""The "predict before you run" questions of notebooks 04-13, by id.

Each question is asked just before the cells that measure its answer; the id's first
two digits name the notebook. Answers rest on what the notebook computes exactly
(counts, FLOPs, gradients, bytes), not on a noisy measurement, so they cannot flip with
the machine. ``QUESTIONS`` is the registry; ``get_question(id)`` and ``for_notebook(nn)``
read it. The framework (grading, HTML, widget) is ``course_lib.exercises.quiz``.

Every text is marked ``N_()`` for the message catalogue (``course_lib.i18n``): ``QUESTIONS``
holds the English source, and ``get_question`` and ``for_notebook`` give each question in the
learner's language (``COURSE_LANG``), so the Chinese edition asks them in Chinese.
"""

from __future__ import annotations

from dataclasses import replace

from course_lib.exercises.quiz import Question
from course_lib.i18n import N_, _

_QUESTIONS = [
    # 04 · What sharing means
    Question(
        id="04-parameters",
        prompt=N_(
            "One nn.Linear(8, 8) object sits at depths 2 and 4 of a network. How many "
            "times does net.parameters() yield its weight?"
        ),
        choices=(
            N_("Once"),
            N_("Twice, once per depth"),
            N_("Not at all: shared tensors are skipped"),
        ),
        answer=0,
        why=(
            N_(
                "parameters() yields each tensor object once, however many places use it; "
                "that is what the optimizer updates and what a shared model's parameter "
                "count means."
            ),
            N_(
                "That is named_parameters(remove_duplicate=False) (and state_dict()), which "
                "walk every use; parameters() removes duplicates."
            ),
            N_("A shared tensor is still a parameter and is trained; it is only not repeated."),
        ),
    ),
    Question(
        id="04-grad",
        prompt=N_("The same weight W is used at two depths. After loss.backward(), W.grad is ..."),
        choices=(
            N_("the gradient of its first use"),
            N_("the gradient of its last use"),
            N_("the average of the gradients of its two uses"),
            N_("the sum of the gradients of its two uses"),
        ),
        answer=3,
        why=(
            N_("Backpropagation visits every use; no use overwrites another."),
            N_("Each use adds into W.grad; the last does not replace the first."),
            N_("Nothing divides by the number of uses: the chain rule adds the contributions."),
            N_(
                "The loss depends on W twice, so by the chain rule dL/dW is the sum of the two "
                "uses' gradients; autograd accumulates them into one .grad."
            ),
        ),
    ),
    Question(
        id="04-blog-linear",
        prompt=N_(
            "The blog's model is nn.Linear(100, 50) followed by nn.Linear(50, 10). How "
            "many of its parameters are shared between the two layers?"
        ),
        choices=(
            N_("None"),
            N_("The 50 x 10 block where the shapes meet"),
            N_("All of the second layer's 510"),
        ),
        answer=0,
        why=(
            N_(
                "The two layers are separate objects with tensors of shapes (50, 100) and "
                "(10, 50): no tensor is used twice, and two tensors of different shapes "
                "cannot be one tensor."
            ),
            N_(
                "A layer's output size matching the next one's input size is how layers chain; "
                "it makes no tensor common to both."
            ),
            N_(
                "The second layer owns its own (10, 50) weight and 10 biases; nothing points "
                "it at the first layer's tensors."
            ),
        ),
    ),
    Question(
        id="04-flops",
        prompt=N_(
            "A 12-layer model with no sharing against the same model with one block "
            "shared by all 12 layers (ALBERT's 'all'). The shared model's forward FLOPs are ..."
        ),
        choices=(
            N_("about 1/12 of the unshared model's"),
            N_("about half"),
            N_("the same"),
            N_("higher"),
        ),
        answer=2,
        why=(
            N_("That is its unique parameter count for the blocks, not its compute."),
            N_("Nothing halves: every layer still runs."),
            N_(
                "Every one of the 12 layers still multiplies its input by d x d matrices; that "
                "the matrices are the same object changes the memory, not the arithmetic. FLOPs "
                "follow the depth N, parameters follow the distinct blocks M."
            ),
            N_("Sharing adds no work either: the same operations run on the same shapes."),
        ),
    ),
    # 05 · Sharing strategies
    Question(
        id="05-order",
        prompt=N_(
            "SEQUENCE and CYCLE, both with M = 3 blocks and N = 12 layers. Which stores "
            "more parameters?"
        ),
        choices=(N_("SEQUENCE"), N_("CYCLE"), N_("Neither: the same")),
        answer=2,
        why=(
            N_("SEQUENCE uses each block for 4 consecutive layers; it still stores 3 blocks."),
            N_("CYCLE runs 0 1 2 0 1 2 ...; it still stores 3 blocks."),
            N_(
                "Both store M = 3 blocks and compute N = 12 layers; the order only decides which "
                "layers hold the same weights, hence what the model can learn."
            ),
        ),
    ),
    Question(
        id="05-ffn-or-attention",
        prompt=N_(
            "With d_ff = 4d, which saves more parameters: sharing only the attention "
            "sublayers, or only the feed-forward (FFN) sublayers?"
        ),
        choices=(N_("Attention only"), N_("FFN only"), N_("The same")),
        answer=1,
        why=(
            N_("Attention holds 4d² weights (Q, K, V, output), half of the FFN's."),
            N_(
                "The FFN holds 2·d·d_ff = 8d² weights, two thirds of a block's 12d²; sharing it "
                "saves twice what sharing attention does."
            ),
            N_("The two sublayers differ in size: 4d² against 2·d·d_ff."),
        ),
    ),
    # 06 · Training with sharing
    Question(
        id="06-shared-grad",
        prompt=N_(
            "An all-shared model of N layers and its untied copy (N blocks with the same "
            "numbers) see the same batch. Compared with one layer's gradient in the copy, "
            "the shared block's gradient is ..."
        ),
        choices=(
            N_("about the same size"),
            N_("larger: the sum over N layers"),
            N_("smaller: an average"),
        ),
        answer=1,
        why=(
            N_("It would be the same only if a single layer used the block."),
            N_(
                "The shared block's gradient is the sum of the N per-layer gradients of the "
                "copy (notebook 04), so at initialisation, where they point alike, it is "
                "several times larger than any one of them."
            ),
            N_("Autograd adds the contributions of the uses; it never averages them."),
        ),
    ),
    Question(
        id="06-adam",
        prompt=N_(
            "The shared block's gradient is several times larger than an unshared "
            "layer's. How much larger is its first update with Adam(W)?"
        ),
        choices=(
            N_("As many times larger as its gradient"),
            N_("About the same size: Adam divides by the gradient's scale"),
            N_("Zero: Adam skips shared tensors"),
        ),
        answer=1,
        why=(
            N_("That is plain SGD, whose step is lr x gradient."),
            N_(
                "Adam's step is m / (√v + ε), the gradient divided by a running estimate of its "
                "own size, so a summed gradient gives a step of about lr per weight, as for "
                "an unshared layer. SGD, by contrast, steps further."
            ),
            N_("Adam updates every parameter the model passes it, shared or not."),
        ),
    ),
    Question(
        id="06-interval",
        prompt=N_(
            "Plan A minus plan B over ten seeds, paired: +1.2 points, 95% interval "
            "[-0.4, +2.8]. What may you say?"
        ),
        choices=(
            N_("A is better than B"),
            N_("No measurable difference at this size: the data fit anything from -0.4 to +2.8"),
            N_("A and B are equally good"),
            N_("95% of A's seeds beat B's by -0.4 to +2.8 points"),
        ),
        answer=1,
        why=(
            N_(
                "The interval contains 0, so the data also fit no difference, or B ahead by "
                "0.4 points; 'better' needs an interval that excludes 0."
            ),
            N_("An interval that contains 0 leaves the sign open; more seeds would narrow it."),
            N_(
                "No difference found is not equality shown: differences up to +2.8 points "
                "fit the data as well as 0 does."
            ),
            N_(
                "The interval is about the mean difference, not about single seeds, whose "
                "differences spread wider."
            ),
        ),
        measured_in=N_("section 2's table"),
    ),
    # 07 · Embeddings: factorized and tied
    Question(
        id="07-factorized",
        prompt=N_(
            "ALBERT's factorization with a 30,000-word vocabulary, hidden size H = 768 "
            "and E = 128: the token embedding goes from V x H to V x E + E x H. How much smaller?"
        ),
        choices=(N_("No smaller"), N_("About 2 times"), N_("About 6 times"), N_("About 30 times")),
        answer=2,
        why=(
            N_("The V x H table is replaced by a thin V x E table and a small E x H projection."),
            N_("The table shrinks with H / E = 6, not 2."),
            N_(
                "30,000 x 768 = 23.0M becomes 30,000 x 128 + 128 x 768 = 3.9M: about 5.9 times "
                "smaller, because the vocabulary dimension now meets E = 128 instead of 768."
            ),
            N_("The saving is at most H / E = 6; the projection adds a little back."),
        ),
    ),
    Question(
        id="07-tied",
        prompt=N_(
            "The output layer's weight is tied to the input embedding (one tensor, used "
            "at both ends). After backward, that tensor's gradient is ..."
        ),
        choices=(
            N_("the output layer's gradient only"),
            N_("the embedding's gradient only"),
            N_("the sum of the two"),
        ),
        answer=2,
        why=(
            N_("The embedding lookup also uses the tensor, so it also contributes."),
            N_("The output layer multiplies by the tensor too, so it also contributes."),
            N_(
                "Tying is sharing: one tensor used twice, so its gradient is the sum over both "
                "uses, as for a block shared across layers (notebook 04)."
            ),
        ),
    ),
    # 08 · Speed and memory, measured
    Question(
        id="08-what-falls",
        prompt=N_("At the same depth, which of these does sharing all blocks reduce?"),
        choices=(
            N_("Forward FLOPs per token"),
            N_("Activation memory during training"),
            N_("Memory for weights, gradients and AdamW state"),
            N_("All three"),
        ),
        answer=2,
        why=(
            N_("Every layer still runs its matrix products: FLOPs follow the depth N."),
            N_(
                "Each layer's activations are kept for the backward pass whether or not its "
                "weights are shared: they also follow N."
            ),
            N_(
                "Weights, their gradients and AdamW's two moments exist once per unique tensor, "
                "so they fall with the number of distinct blocks M."
            ),
            N_("Only one of them depends on the number of distinct blocks."),
        ),
    ),
    Question(
        id="08-bytes",
        prompt=N_(
            "Training in fp32 with AdamW: how many bytes does each unique parameter cost "
            "for its weight, gradient and optimizer state together?"
        ),
        choices=(N_("4"), N_("8"), N_("12"), N_("16")),
        answer=3,
        why=(
            N_("That is the weight alone."),
            N_("Weight and gradient; AdamW adds two more tensors of the same size."),
            N_("Weight, gradient and one moment; AdamW keeps two (m and v)."),
            N_(
                "4 bytes each for the weight, its gradient, and AdamW's first and second moments: "
                "16 bytes per unique parameter, which is why sharing divides this memory exactly "
                "as it divides the parameters."
            ),
        ),
    ),
    # 09 · Depth for free?
    Question(
        id="09-depth",
        prompt=N_(
            "'cycle N6 M3' runs 3 blocks over 6 layers; 'none N3' has 3 layers of its own. "
            "Compared with 'none N3', the cycle model has ..."
        ),
        choices=(
            N_("the same parameters and the same FLOPs"),
            N_("the same parameters and about twice the FLOPs"),
            N_("twice the parameters and twice the FLOPs"),
        ),
        answer=1,
        why=(
            N_("Six layers run where three ran before: the compute follows N."),
            N_(
                "Both store 3 blocks, but the cycle model runs 6 layers: depth was free in "
                "parameters, not in compute (not exactly 2x, as the embeddings and the "
                "classifier do not grow)."
            ),
            N_("The parameters follow the distinct blocks, M = 3 in both."),
        ),
    ),
    Question(
        id="09-remainder",
        prompt=N_(
            "ACT with eps = 0.01: a position's halting probabilities are 0.3, 0.5, then "
            "0.4. It halts at step 3. What weight does step 3 get in its output?"
        ),
        choices=(N_("0.4"), N_("0.2"), N_("0.0"), N_("1.0")),
        answer=1,
        why=(
            N_("0.3 + 0.5 + 0.4 = 1.2 would exceed 1; the last step takes what is left instead."),
            N_(
                "The last step gets the remainder R = 1 - (0.3 + 0.5) = 0.2, so the weights "
                "0.3, 0.5, 0.2 sum to 1 (Graves 2016)."
            ),
            N_("The step that crosses the threshold still contributes, with the remainder."),
            N_("Earlier steps keep their weights 0.3 and 0.5."),
        ),
    ),
    # 10 · Beyond text
    Question(
        id="10-tokens",
        prompt=N_(
            "An 8x8 digit cut into 2x2 patches, plus the class token: how many tokens does "
            "the encoder read per image?"
        ),
        choices=(N_("16"), N_("17"), N_("64"), N_("65")),
        answer=1,
        why=(
            N_("16 patches, and the class token in front makes one more."),
            N_("(8/2) x (8/2) = 16 patches, one token each, plus one class token: T = 17."),
            N_("A token is a patch of 4 pixels, not a pixel."),
            N_("A token is a patch of 4 pixels, not a pixel."),
        ),
    ),
    Question(
        id="10-flops",
        prompt=N_("The 6-layer ViT with sharing='all' against sharing='none': FLOPs per image?"),
        choices=(N_("The same"), N_("About 1/6"), N_("Fewer, by the stored parameters saved")),
        answer=0,
        why=(
            N_(
                "Each of the 6 layers still multiplies its 17 tokens by its matrices; sharing "
                "changes which tensors exist, not which operations run."
            ),
            N_("That is close to the ratio of the blocks' unique parameters, not of the work."),
            N_(
                "Stored parameters and FLOPs are different things: FLOPs follow parameters "
                "per use, which all plans have the same."
            ),
        ),
    ),
    # 11 · Choosing a strategy
    Question(
        id="11-latency",
        prompt=N_(
            "Your model is too slow on the GPU at batch 64 (compute-bound). Which change "
            "makes it faster?"
        ),
        choices=(
            N_("Share all blocks, same depth"),
            N_("Share attention only, same depth"),
            N_("Fewer (or narrower) layers"),
            N_("Factorize the embeddings"),
        ),
        answer=2,
        why=(
            N_("Same depth, same FLOPs: the step time stays, apart from a smaller optimizer step."),
            N_("Same depth, same FLOPs."),
            N_("Time follows compute, and compute follows the depth and width: run less of it."),
            N_("An embedding lookup is cheap; the saving is in parameters, not time."),
        ),
    ),
    Question(
        id="11-memory",
        prompt=N_(
            "You must ship 50 fine-tuned copies of a model to a phone: storage is the limit, "
            "latency is fine. Which lever fits?"
        ),
        choices=(
            N_("Share blocks across layers"),
            N_("Train longer"),
            N_("Use fewer attention heads"),
        ),
        answer=0,
        why=(
            N_(
                "Stored weights follow the distinct blocks M; sharing divides them (and the "
                "optimizer state), which is exactly the limit that binds here."
            ),
            N_("Training longer changes the numbers, not how many are stored."),
            N_(
                "At fixed d_model the heads split the same Q, K, V matrices: no parameter is saved."
            ),
        ),
    ),
    # 12 · Turning a trained model into a shared one
    Question(
        id="12-cycle",
        prompt=N_(
            "A trained 4-layer model becomes 2 shared blocks looped twice (CYCLE), with no "
            "LoRA (rank 0). Which layers now compute with the very same weights?"
        ),
        choices=(
            N_("Layers 0 and 2, and layers 1 and 3"),
            N_("Layers 0 and 1, and layers 2 and 3"),
            N_("All four layers"),
        ),
        answer=0,
        why=(
            N_(
                "CYCLE sends layer i to block i mod M: blocks 0 1 0 1, so a block serves layers "
                "b and b + 2, as the paper loops its block set."
            ),
            N_("That is SEQUENCE (0 0 1 1); the looped block set repeats in order instead."),
            N_("Two blocks are kept; all four layers share one block only with M = 1."),
        ),
        measured_in=N_("section 2"),
    ),
    Question(
        id="12-full-rank",
        prompt=N_(
            "Every layer of the converted model gets a LoRA delta of full rank, initialised "
            "by the SVD of its residual W_l - W_shared. Compared with the original model it ..."
        ),
        choices=(
            N_("computes the same outputs and stores MORE parameters"),
            N_("computes the same outputs and stores fewer parameters"),
            N_("only approximates the outputs, with fewer parameters"),
        ),
        answer=0,
        why=(
            N_(
                "Full-rank B A equals the residual, so W_shared + B A = W_l: the same function. "
                "But a full-rank LoRA stores r(out + in) numbers per matrix, more than out x in."
            ),
            N_(
                "The outputs match, but full-rank factors cost r(out + in) > out x in each: the "
                "saving exists only at small r."
            ),
            N_("The truncated SVD at full rank keeps every singular value: nothing is left out."),
        ),
        measured_in=N_("section 2"),
    ),
    Question(
        id="12-basis-count",
        prompt=N_(
            "One weight type, out x in, in N layers, at the same rank k: which stores fewer "
            "numbers, one basis shared by the N layers, or one SVD per layer?"
        ),
        choices=(N_("The shared basis"), N_("One SVD per layer"), N_("Both store the same")),
        answer=0,
        why=(
            N_(
                "Shared: k*in + N*out*k. Per layer: N*k*(out + in). The basis is stored once "
                "instead of N times, saving (N - 1)*k*in; so at equal storage it can afford a "
                "larger k."
            ),
            N_("Per-layer SVD stores a (k, in) factor for every layer; the shared basis once."),
            N_(
                "The per-layer coefficients cost the same, but the basis is stored once, not N times."
            ),
        ),
        measured_in=N_("section 4"),
    ),
    Question(
        id="13-capacity",
        prompt=N_(
            "Expert-choice routing with capacities (1, 2/3, 1/3): every token passes the "
            "first recursion, then the top 2/3, then the top 1/3. On average, how many "
            "recursions does a token take?"
        ),
        choices=(N_("1"), N_("about 2"), N_("3"), N_("it depends on what the router learns")),
        answer=1,
        why=(
            N_("Only the tokens that stop after the first recursion take 1; others go on."),
            N_(
                "1 + 2/3 + 1/3 = 2 (a little more, as ceil rounds up): the capacities fix the "
                "compute, whatever the router learns. It chooses WHICH tokens, not how many."
            ),
            N_("3 is plain looping, every token through every recursion: capacity 1 throughout."),
            N_(
                "That is token choice: each token picks its own depth, so the average moves as "
                "the router learns. Expert choice fixes the count per recursion."
            ),
        ),
        measured_in=N_("section 2"),
    ),
    Question(
        id="13-more-loops",
        prompt=N_(
            "A prelude, a core and a coda, one block each (3 unique blocks), trained with "
            "4 loops of the core. Run with 16 loops at test time, it has ..."
        ),
        choices=(
            N_("the same parameters and 18 blocks of compute per token"),
            N_("4x the parameters and 4x the compute"),
            N_("the same parameters and the same compute"),
        ),
        answer=0,
        why=(
            N_(
                "Loops reuse the core's weights: 1 + 16 + 1 = 18 block applications per token, "
                "from the same 3 blocks. Whether the answer improves is the measurement."
            ),
            N_("No block is added: the loop count is an argument of forward, not of the model."),
            N_("Every loop runs the core again: compute grows with the loop count."),
        ),
        measured_in=N_("section 4"),
    ),
    Question(
        id="13-iso-flop",
        prompt=N_(
            "The 3-block model at 4 loops runs 6 blocks per token. Its iso-FLOP rival is "
            "6 unshared blocks; its iso-parameter rival is 3 unshared blocks. Which rival "
            "should be the harder one to beat?"
        ),
        choices=(
            N_("6 unshared blocks"),
            N_("3 unshared blocks"),
            N_("neither: all three are equal"),
        ),
        answer=0,
        why=(
            N_(
                "Same compute, twice the parameters: Saunshi et al. find looping comes close to "
                "it on reasoning tasks, not that it wins. Section 5 measures both gaps."
            ),
            N_(
                "3 unshared blocks have the looped model's parameters but half its depth; on a "
                "task that needs steps, depth matters."
            ),
            N_("They differ in parameters or in compute; the measurement decides."),
        ),
        measured_in=N_("section 5"),
    ),
]

QUESTIONS: dict[str, Question] = {q.id: q for q in _QUESTIONS}
if len(QUESTIONS) != len(_QUESTIONS):  # pragma: no cover - caught at import in tests
    raise ValueError("two questions share an id")


def localized(question: Question) -> Question:
    """``question`` with its prompt, choices, explanations and place in the learner's language."""
    return replace(
        question,
        prompt=_(question.prompt),
        choices=tuple(_(c) for c in question.choices),
        why=tuple(_(w) for w in question.why),
        measured_in=_(question.measured_in),
    )


def get_question(qid: str) -> Question:
    """The question with id ``qid``, in the learner's language; an unknown id names the allowed ones."""
    if qid not in QUESTIONS:
        raise ValueError(
            _("quiz id={qid!r} is not allowed: known ids are {known}").format(
                qid=qid, known=", ".join(QUESTIONS)
            )
        )
    return localized(QUESTIONS[qid])


def for_notebook(nn: str) -> list[Question]:
    """The questions of notebook ``nn`` ("04" ... "13"), in course order and the learner's language."""
    return [localized(q) for q in _QUESTIONS if q.notebook == nn]
