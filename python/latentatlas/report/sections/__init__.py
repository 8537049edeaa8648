"""The demo's sections, in the order of the report. Each is a function
``section_*(ctx: Context) -> Section`` that draws its figures through ``ctx.w``, stores
its numbers under its key in ``ctx.results`` and returns the :class:`~..page.Section`
that shows them."""

from __future__ import annotations

from collections.abc import Callable

from ..context import Context
from ..page import Section
from .atdot_tables import section_atdot
from .attribute_vectors import section_correlated, section_labelling, section_traversals, section_two_attributes
from .blog import section_blog_models, section_walks
from .diagnostics import section_label_tables, section_prior_gap
from .interpolation import section_j_diagrams, section_mine, section_paths, section_samples

#: (progress line, section) in report order; the two-attribute grid and the label tables reuse
#: the data and latents of the correlated-labels section, so they come after it.
STEPS: list[tuple[str, Callable[[Context], Section]]] = [
    ("slerp vs lerp: norms along the path and strips", section_paths),
    ("J-Diagrams (VAE and GAN)", section_j_diagrams),
    ("MINE grid", section_mine),
    ("prior samples and a slerp walk", section_samples),
    ("how far the encodings sit from the prior (VAE and GAN)", section_prior_gap),
    ("attribute traversals", section_traversals),
    ("correlated labels: naive vs balanced", section_correlated),
    ("label tables of the shapes data", section_label_tables),
    ("labelling bias: labelled vs synthetic blur", section_labelling),
    ("decoupled two-attribute grid", section_two_attributes),
    ("AtDot tables, ROC and histogram", section_atdot),
    ("the blog's models: a 2-D VAE and pixel Naive Bayes", section_blog_models),
    ("centroid walks on all 45 digit pairs", section_walks),
]
