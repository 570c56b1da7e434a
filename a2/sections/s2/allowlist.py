"""§2.1's from-scratch rule, as an allowlist: what the code an attention answer reaches may use.

The exercise is to build attention from tensor operations. Naming what is forbidden cannot work:
PyTorch, Hugging Face, xformers and flash-attn each offer attention under many names, and Python
offers countless ways to reach any of them (resolvers, importers, threads, other libraries). So the
rule names what is allowed instead, and everything else is refused: inside the reach of a §2.1
answer (grader/intake/slicer.py), every name and attribute must resolve, by reading the code, to

- the student's own code in that reach (functions, classes, variables, parameters);
- a listed operation of `torch`, `torch.nn.functional`, `torch.nn`, `math`, `numpy` or `einops`;
- a method or attribute of a value (a tensor, a list, a string) from `VALUE_ATTRIBUTES`;
- a listed builtin.

The lists are broad enough for every honest way of writing §2.1 (matmul, bmm or einsum; loops over
heads; `einops.rearrange`; a softmax written with `exp`, `max` and `sum`; `masked_fill`, `where`, an
additive mask, `-inf` or a large negative; float64; `torch.finfo`), and narrow enough that no listed
operation computes attention or runs code that the reading cannot see: no attention function, no
module of layers beyond `Linear`, nothing that takes a callable and runs it (`Tensor.apply_`,
`register_hook`, `torch.vmap`, `torch.compile`), no `getattr` with a computed name, no `type`, no
importer, thread, process or coroutine. `docs/from-scratch.md` and the students' notebook print these
lists (handout/allowlist_text.py renders them).
"""

from __future__ import annotations

from grader.reach_rules import Allowlist

_words = str.split

#: Functions, classes and constants of torch that a from-scratch attention uses.
TORCH = _words(
    """
    tensor as_tensor from_numpy zeros ones full empty arange linspace eye zeros_like ones_like full_like
    empty_like rand randn randint rand_like randn_like tril triu tril_indices triu_indices diag diagonal
    matmul bmm mm mv einsum tensordot outer baddbmm addmm kron block_diag
    softmax log_softmax logsumexp exp exp2 log log2 sqrt rsqrt abs neg sign square pow clamp clip tanh
    sigmoid relu max min maximum minimum amax amin sum prod mean std var norm cumsum all any argmax argmin
    where masked_fill eq ne lt le gt ge isinf isnan isfinite isneginf isposinf nan_to_num logical_not
    logical_and logical_or logical_xor bitwise_not
    cat concat concatenate stack split chunk unbind transpose permute reshape flatten unflatten unsqueeze
    squeeze movedim moveaxis swapaxes swapdims narrow select index_select gather repeat_interleave flip
    roll broadcast_to broadcast_tensors atleast_2d clone
    mul div add sub true_divide floor_divide addcmul addcdiv
    finfo iinfo float32 float64 float16 bfloat16 half float double bool long int int64 int32 int8 uint8
    inf nan pi e device dtype Size Tensor FloatTensor LongTensor BoolTensor
    is_tensor is_floating_point numel get_default_dtype manual_seed no_grad linalg special backends
    allclose equal isclose divide subtract multiply clamp_min clamp_max tensor_split dstack hstack vstack
    sort vmap
    """
)
#: torch.nn.functional: the softmax, padding, activations and normalising; nothing that attends.
FUNCTIONAL = _words(
    "softmax log_softmax softmin pad relu gelu silu elu leaky_relu tanh sigmoid dropout normalize linear "
    "layer_norm one_hot"
)
#: torch.nn: what `init_qkv_proj` and a student's own module need; no layer that attends.
NN = _words(
    "Linear Module Parameter ParameterList ParameterDict ModuleList ModuleDict Sequential Identity "
    "Softmax LogSoftmax Dropout Flatten Unflatten ReLU GELU Tanh Sigmoid LayerNorm init"
)
#: torch.nn.init: filling a student's own weights.
INIT = _words(
    "xavier_uniform_ xavier_normal_ kaiming_uniform_ kaiming_normal_ normal_ uniform_ zeros_ ones_ "
    "constant_ eye_ trunc_normal_ orthogonal_"
)
#: numpy's basics: array creation, elementwise math, constants and dtypes.
NUMPY = _words(
    """
    array asarray zeros ones full eye arange linspace tril triu sqrt exp log abs maximum minimum max min
    sum mean prod matmul dot einsum transpose reshape concatenate stack where inf nan pi e newaxis
    float32 float64 int64 int32 bool_ ndarray finfo isinf isnan amax amin expand_dims squeeze swapaxes
    moveaxis allclose isclose
    """
)
MATH = _words("sqrt isqrt exp log log2 pow inf nan pi e prod fsum ceil floor isinf isnan isclose fabs")
#: einops: rearranging and repeating axes, and named-axis einsum.
EINOPS = _words("rearrange repeat reduce einsum pack unpack")

#: typing's names: annotations compute nothing.
TYPING = _words(
    "Optional Tuple List Dict Set Union Any Callable Sequence Iterable Iterator Mapping Literal TypeVar "
    "NamedTuple Final"
)

#: Methods and attributes of values the code makes: tensors, then lists, dicts and strings.
VALUE_ATTRIBUTES = _words(
    """
    shape dtype device ndim T mT H is_cuda requires_grad grad data real values indices
    transpose transpose_ permute reshape view view_as reshape_as contiguous is_contiguous stride size dim
    unsqueeze unsqueeze_ squeeze squeeze_ expand expand_as repeat repeat_interleave flatten unflatten split
    chunk unbind narrow select index_select index_fill gather masked_fill masked_fill_ masked_select where
    softmax log_softmax logsumexp exp exp_ log log_ sum mean max min amax amin argmax argmin matmul bmm mm
    mv dot mul mul_ div div_ add add_ sub sub_ neg neg_ pow pow_ sqrt sqrt_ rsqrt abs abs_ clamp clamp_
    clamp_min clamp_max clip tril tril_ triu triu_ fill_diagonal_ to type float double half bfloat16 long
    int bool clone detach detach_ cpu cuda new_zeros new_ones new_full new_tensor new_empty fill_ zero_ eq
    ne lt le gt ge logical_not logical_and logical_or bitwise_not item tolist numel type_as swapaxes swapdims
    movedim moveaxis cumsum nan_to_num isinf isnan isfinite all any nonzero sign square reciprocal t
    is_floating_point element_size requires_grad_ numpy masked_scatter std var norm addmm baddbmm
    true_divide floor_divide multiply divide subtract negative sigmoid tanh relu flip roll diagonal diag
    min_value max_value eps tiny ndimension nelement grad_fn is_leaf allclose equal isclose sort
    tensor_split
    weight bias register_buffer register_parameter parameters named_parameters buffers children train
    eval training forward
    debug info warning
    append extend insert pop copy index count items keys values get reverse sort
    format join upper lower strip startswith endswith replace
    astype
    """
)
#: Builtins that compute nothing hidden. Not listed: eval, exec, compile, __import__, getattr with a
#: computed name, setattr, delattr, globals, locals, vars, dir, type, open, input, breakpoint.
BUILTINS = _words(
    """
    range len enumerate zip reversed sorted min max sum abs round pow divmod all any map filter
    int float bool str list tuple dict set frozenset slice iter next isinstance issubclass callable
    print display repr format hash id dir super object staticmethod classmethod property getattr hasattr
    Exception ValueError TypeError RuntimeError AssertionError IndexError KeyError ZeroDivisionError
    NotImplementedError NotImplemented ArithmeticError Ellipsis
    """
)

FROM_SCRATCH = Allowlist(
    rule=(
        "§2.1 builds attention from tensor operations, so the code an attention function reaches may "
        "use only the operations listed in the notebook (Step 0)"
    ),
    modules={
        "torch": frozenset(TORCH),
        "torch.nn": frozenset(NN),
        "torch.nn.init": frozenset(INIT),
        "torch.linalg": frozenset(("norm", "vector_norm")),
        "torch.nn.functional": frozenset(FUNCTIONAL),
        "torch.cuda": frozenset(("is_available",)),
        "numpy": frozenset(NUMPY),
        "math": frozenset(MATH),
        "einops": frozenset(EINOPS),
        "torch.special": frozenset(("softmax", "log_softmax", "logsumexp", "expit")),
        "torch.backends": frozenset(("mps", "cuda")),
        "torch.backends.mps": frozenset(("is_available", "is_built")),
        "torch.backends.cuda": frozenset(("is_built",)),
        "typing": frozenset(TYPING),
        # Configs, decorators and copies of the student's own things.
        "dataclasses": frozenset(("dataclass", "field")),
        "functools": frozenset(("wraps", "partial", "lru_cache", "cache", "reduce")),
        "copy": frozenset(("copy", "deepcopy")),
        # Where a debugging habit looks: the environment, the error stream, a logger.
        "os": frozenset(("environ", "getenv")),
        "sys": frozenset(("stderr", "stdout")),
        "logging": frozenset(
            ("getLogger", "debug", "info", "warning", "basicConfig", "DEBUG", "INFO", "WARNING")
        ),
        # Debugging habits that compute nothing: timing, warnings, a notebook's display.
        "time": frozenset(("time", "perf_counter", "monotonic")),
        "warnings": frozenset(("warn",)),
        "IPython.display": frozenset(("display",)),
    },
    value_attributes=frozenset(VALUE_ATTRIBUTES),
    builtins=frozenset(BUILTINS),
    bases=frozenset(
        (
            "object",
            "torch.nn.Module",
            "Exception",
            "ValueError",
            "TypeError",
            "RuntimeError",
            "AssertionError",
        )
    ),
)
