"""The course's exercises: self-checks of the learner's code, one module per notebook.

Course scaffolding, kept apart from the library (``config``, ``sharing``, ``layers``,
``model``, ``measure``, ``train`` ...): ``framework`` runs a check and reports it,
``compare`` holds what a check asserts about the answer; ``nb01`` ... ``nb13`` hold the
checks of each notebook, ``check_NN_name(my_name)``. An exercise cell in a notebook looks like::

    # exercise (core)
    def my_causal_mask(t):
        raise NotImplementedError  # your code here


    check_01_causal_mask(my_causal_mask)

Until ``my_causal_mask`` is written the check prints one "not attempted yet" line; then it
runs with its hints. ``course_lib.exercises.framework.show_reference_passes("01")`` runs a
notebook's checks on the reference solutions (``solutions/``, absent from the student
edition). Each name is imported from its module; this package re-exports nothing.
"""
