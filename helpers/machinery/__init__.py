"""The course's machinery: what every lesson's explorers, checkers and measurements stand on.

    explorer           the explorer base (controls → state → live figure) and the per-sentence variant
    plotting           attention maps, weight bars, log axes: draw on a given Axes, return it
    exercise_checking  how a checker reports (✓/✗, hints) and calls the learner's code
    progress           the learner's local record of passed exercises
    environment        the environment check of 00_start_here
    bertviz_offline    bertviz's head and model views, served from the installed package
    minilm             MiniLM (all-MiniLM-L6-v2) from its installed files: tokens, vectors, projections
    minilm_model       MiniLM's six layers computed from those files: every head's attention
    measurement        an operation meter (peak memory, FLOPs, operations), the allocator's peak, median timers
    power_laws         power-law fits of measured series (log-log slopes), and where one series reaches another
    toy_data           the small hand-made sentences and vectors of the first lessons
    numerics           pinned or native float kernels (imports no torch: read before torch loads)
    seeding, threads   set_seed; one thread for timings that compare like with like

The machinery imports the library, never a lesson (tests/test_architecture.py checks it).
Importing this package loads nothing: helpers.machinery.numerics must load before torch and numpy.
"""
