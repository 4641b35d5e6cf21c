!> prange.f90 - the Fortran 2008 interface to libprange (module `prange`, ISO_C_BINDING).
!>
!> Loops take a bind(c) procedure and a type(c_ptr) context, as in C; reductions, kernels
!> on real(c_double) arrays and NUMA-aware allocation. See docs/fortran.md.
!>
!> Conventions (all procedures here)
!> - Ranges are C's: half-open [b, e) of integer(c_int64_t), handed to bodies unchanged;
!>   pass [1, n + 1) to get Fortran indices 1 .. n.
!> - Functions returning integer(c_int) return 0 or a negative PRANGE_E* code (C's);
!>   prange_strerror names it. Kernels return NaN on bad input, as in C.
!> - opts is optional (absent = automatic, C's NULL); its struct_size is set here.
!> - ctx is optional (absent = c_null_ptr).
!> - Indices returned by the kernels (minloc / maxloc) are 1-based positions in the array.
!> - Bodies run concurrently on several threads: they must be thread-safe (no SAVE
!>   variables, no shared writes without care) and must return normally.
module prange
    use, intrinsic :: iso_c_binding
    implicit none
    private

    ! ---- constants (prange.h) -------------------------------------------------------------
    integer(c_int), parameter, public :: PRANGE_EINVAL = -22, PRANGE_ENOMEM = -12, &
        PRANGE_ERANGE = -34, PRANGE_EOVERFLOW = -75, PRANGE_ENOSYS = -38, PRANGE_EIO = -5
    integer(c_int), parameter, public :: PRANGE_SERIAL = 1
    integer(c_int), parameter, public :: PRANGE_SCHEDULE_AUTO = 0, PRANGE_SCHEDULE_STATIC = 1, &
        PRANGE_SCHEDULE_DYNAMIC = 2, PRANGE_SCHEDULE_GUIDED = 3

    !> Per-call options (C's prange_opts); every zero field is automatic. struct_size is
    !> filled by the module on each call.
    type, bind(c), public :: prange_opts
        integer(c_int32_t) :: struct_size = 0
        integer(c_int) :: flags = 0              ! PRANGE_SERIAL
        integer(c_int64_t) :: grain = 0          ! minimum iterations per chunk
        integer(c_int) :: threads = 0            ! upper bound on the team
        integer(c_int) :: schedule = 0           ! PRANGE_SCHEDULE_*
        real(c_double) :: cost_ns = 0            ! estimated ns per iteration
        type(c_ptr) :: label = c_null_ptr        ! a static NUL-terminated string, or null
        type(c_ptr) :: key = c_null_ptr          ! the learned-cost identity, or null
    end type prange_opts

    !> A reducer (C's prange_reducer): acc_size bytes, identity and combine bind(c)
    !> procedures given with c_funloc (interfaces prange_identity_fn, prange_combine_fn).
    type, bind(c), public :: prange_reducer
        integer(c_int32_t) :: struct_size = 0
        integer(c_size_t) :: acc_size = 0
        type(c_funptr) :: identity = c_null_funptr
        type(c_funptr) :: combine = c_null_funptr
        type(c_ptr) :: rctx = c_null_ptr
    end type prange_reducer

    !> A value with its 1-based index (minloc / maxloc); index 0 for an empty array.
    type, bind(c), public :: prange_loc_f64
        real(c_double) :: value
        integer(c_int64_t) :: index
    end type prange_loc_f64

    ! ---- what user procedures look like ---------------------------------------------------
    abstract interface
        !> A loop body: iterations [b, e).
        subroutine prange_body_fn(ctx, b, e) bind(c)
            import :: c_ptr, c_int64_t
            type(c_ptr), value :: ctx
            integer(c_int64_t), value :: b, e
        end subroutine prange_body_fn
        !> An early-stop body: return 0 to go on, anything else to stop.
        integer(c_int) function prange_until_fn(ctx, b, e) bind(c)
            import :: c_ptr, c_int64_t, c_int
            type(c_ptr), value :: ctx
            integer(c_int64_t), value :: b, e
        end function prange_until_fn
        !> A tile body: rows [ib, ie) x columns [jb, je).
        subroutine prange_body2d_fn(ctx, ib, ie, jb, je) bind(c)
            import :: c_ptr, c_int64_t
            type(c_ptr), value :: ctx
            integer(c_int64_t), value :: ib, ie, jb, je
        end subroutine prange_body2d_fn
        !> A reduction body with a double accumulator: fold [b, e) into acc.
        subroutine prange_reduce_f64_fn(ctx, b, e, acc) bind(c)
            import :: c_ptr, c_int64_t, c_double
            type(c_ptr), value :: ctx
            integer(c_int64_t), value :: b, e
            real(c_double), intent(inout) :: acc
        end subroutine prange_reduce_f64_fn
        !> A reduction body with an integer(c_int64_t) accumulator.
        subroutine prange_reduce_i64_fn(ctx, b, e, acc) bind(c)
            import :: c_ptr, c_int64_t
            type(c_ptr), value :: ctx
            integer(c_int64_t), value :: b, e
            integer(c_int64_t), intent(inout) :: acc
        end subroutine prange_reduce_i64_fn
        !> A reduction body with any accumulator (c_f_pointer it to its type).
        subroutine prange_reduce_fn(ctx, b, e, acc) bind(c)
            import :: c_ptr, c_int64_t
            type(c_ptr), value :: ctx, acc
            integer(c_int64_t), value :: b, e
        end subroutine prange_reduce_fn
        !> A reducer's identity: write the identity element into acc.
        subroutine prange_identity_fn(rctx, acc, acc_size) bind(c)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: rctx, acc
            integer(c_size_t), value :: acc_size
        end subroutine prange_identity_fn
        !> A reducer's combine: acc = acc (+) rhs, acc covering the lower indices.
        subroutine prange_combine_fn(rctx, acc, rhs, acc_size) bind(c)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: rctx, acc, rhs
            integer(c_size_t), value :: acc_size
        end subroutine prange_combine_fn
    end interface
    public :: prange_body_fn, prange_until_fn, prange_body2d_fn, prange_reduce_f64_fn, &
        prange_reduce_i64_fn, prange_reduce_fn, prange_identity_fn, prange_combine_fn

    ! ---- C functions called as they are --------------------------------------------------
    interface
        !> The thread budget outside a body; the team size inside one.
        integer(c_int) function prange_num_threads() bind(c, name='prange_num_threads')
            import :: c_int
        end function prange_num_threads
        !> The calling worker's index inside a body, 0 .. team-1.
        integer(c_int) function prange_thread_id() bind(c, name='prange_thread_id')
            import :: c_int
        end function prange_thread_id
        !> The process-wide maximum team size (0 = default); 0 or PRANGE_EINVAL.
        integer(c_int) function prange_set_num_threads(n) bind(c, name='prange_set_num_threads')
            import :: c_int
            integer(c_int), value :: n
        end function prange_set_num_threads
        !> A zeroed, NUMA-placed block of count elements of elem_size bytes (c_null_ptr on
        !> failure); release it with prange_free.
        type(c_ptr) function prange_alloc(count, elem_size) bind(c, name='prange_alloc')
            import :: c_ptr, c_int64_t, c_size_t
            integer(c_int64_t), value :: count
            integer(c_size_t), value :: elem_size
        end function prange_alloc
        !> Release a block from prange_alloc (c_null_ptr: nothing).
        subroutine prange_free(p) bind(c, name='prange_free')
            import :: c_ptr
            type(c_ptr), value :: p
        end subroutine prange_free
        !> The built-in reducers (library-owned, for prange_reduce_f64 / _i64 / prange_reduce).
        type(c_ptr) function prange_reducer_sum_f64() bind(c, name='prange_reducer_sum_f64')
            import :: c_ptr
        end function prange_reducer_sum_f64
        type(c_ptr) function prange_reducer_prod_f64() bind(c, name='prange_reducer_prod_f64')
            import :: c_ptr
        end function prange_reducer_prod_f64
        type(c_ptr) function prange_reducer_min_f64() bind(c, name='prange_reducer_min_f64')
            import :: c_ptr
        end function prange_reducer_min_f64
        type(c_ptr) function prange_reducer_max_f64() bind(c, name='prange_reducer_max_f64')
            import :: c_ptr
        end function prange_reducer_max_f64
        type(c_ptr) function prange_reducer_sum_i64() bind(c, name='prange_reducer_sum_i64')
            import :: c_ptr
        end function prange_reducer_sum_i64
        type(c_ptr) function prange_reducer_min_i64() bind(c, name='prange_reducer_min_i64')
            import :: c_ptr
        end function prange_reducer_min_i64
        type(c_ptr) function prange_reducer_max_i64() bind(c, name='prange_reducer_max_i64')
            import :: c_ptr
        end function prange_reducer_max_i64
    end interface
    public :: prange_num_threads, prange_thread_id, prange_set_num_threads, prange_alloc, &
        prange_free, prange_reducer_sum_f64, prange_reducer_prod_f64, prange_reducer_min_f64, &
        prange_reducer_max_f64, prange_reducer_sum_i64, prange_reducer_min_i64, prange_reducer_max_i64

    ! ---- C functions behind the module procedures -----------------------------------------
    interface
        integer(c_int) function c_for_opts(b, e, body, ctx, opts) bind(c, name='prange_for_opts')
            import :: c_int, c_int64_t, c_funptr, c_ptr
            integer(c_int64_t), value :: b, e
            type(c_funptr), value :: body
            type(c_ptr), value :: ctx, opts
        end function c_for_opts
        integer(c_int) function c_for_until(b, e, body, ctx, opts, stop) bind(c, name='prange_for_until')
            import :: c_int, c_int64_t, c_funptr, c_ptr
            integer(c_int64_t), value :: b, e
            type(c_funptr), value :: body
            type(c_ptr), value :: ctx, opts, stop
        end function c_for_until
        integer(c_int) function c_for_2d(i0, i1, j0, j1, ti, tj, body, ctx, opts) bind(c, name='prange_for_2d')
            import :: c_int, c_int64_t, c_funptr, c_ptr
            integer(c_int64_t), value :: i0, i1, j0, j1, ti, tj
            type(c_funptr), value :: body
            type(c_ptr), value :: ctx, opts
        end function c_for_2d
        integer(c_int) function c_reduce(b, e, r, body, ctx, result, opts) bind(c, name='prange_reduce')
            import :: c_int, c_int64_t, c_funptr, c_ptr
            integer(c_int64_t), value :: b, e
            type(c_ptr), value :: r, ctx, result, opts
            type(c_funptr), value :: body
        end function c_reduce
        real(c_double) function c_sum_f64(x, n, opts) bind(c, name='prange_sum_f64')
            import :: c_double, c_int64_t, c_ptr
            type(c_ptr), value :: x
            integer(c_int64_t), value :: n
            type(c_ptr), value :: opts
        end function c_sum_f64
        real(c_double) function c_dot_f64(x, y, n, opts) bind(c, name='prange_dot_f64')
            import :: c_double, c_int64_t, c_ptr
            type(c_ptr), value :: x, y
            integer(c_int64_t), value :: n
            type(c_ptr), value :: opts
        end function c_dot_f64
        real(c_double) function c_nrm2_f64(x, n, opts) bind(c, name='prange_nrm2_f64')
            import :: c_double, c_int64_t, c_ptr
            type(c_ptr), value :: x
            integer(c_int64_t), value :: n
            type(c_ptr), value :: opts
        end function c_nrm2_f64
        type(prange_loc_f64) function c_minloc_f64(x, n, opts) bind(c, name='prange_minloc_f64')
            import :: prange_loc_f64, c_double, c_int64_t, c_ptr
            type(c_ptr), value :: x
            integer(c_int64_t), value :: n
            type(c_ptr), value :: opts
        end function c_minloc_f64
        type(prange_loc_f64) function c_maxloc_f64(x, n, opts) bind(c, name='prange_maxloc_f64')
            import :: prange_loc_f64, c_double, c_int64_t, c_ptr
            type(c_ptr), value :: x
            integer(c_int64_t), value :: n
            type(c_ptr), value :: opts
        end function c_maxloc_f64
        integer(c_int) function c_scan_f64(x, out, n, exclusive, opts) bind(c, name='prange_scan_f64')
            import :: c_int, c_double, c_int64_t, c_ptr
            type(c_ptr), value :: x, out
            integer(c_int64_t), value :: n
            integer(c_int), value :: exclusive
            type(c_ptr), value :: opts
        end function c_scan_f64
        integer(c_int) function c_row_sums_f64(a, out, rows, cols, opts) bind(c, name='prange_row_sums_f64')
            import :: c_int, c_double, c_int64_t, c_ptr
            type(c_ptr), value :: a, out
            integer(c_int64_t), value :: rows, cols
            type(c_ptr), value :: opts
        end function c_row_sums_f64
        integer(c_int) function c_row_norms_f64(a, out, rows, cols, opts) bind(c, name='prange_row_norms_f64')
            import :: c_int, c_double, c_int64_t, c_ptr
            type(c_ptr), value :: a, out
            integer(c_int64_t), value :: rows, cols
            type(c_ptr), value :: opts
        end function c_row_norms_f64
        type(c_ptr) function c_strerror(err) bind(c, name='prange_strerror')
            import :: c_ptr, c_int
            integer(c_int), value :: err
        end function c_strerror
        integer(c_size_t) function c_strlen(s) bind(c, name='strlen')
            import :: c_size_t, c_ptr
            type(c_ptr), value :: s
        end function c_strlen
    end interface

    public :: prange_for, prange_for_until, prange_for_2d, prange_reduce, prange_reduce_f64, &
        prange_reduce_i64, prange_sum_f64, prange_dot_f64, prange_nrm2_f64, prange_minloc_f64, &
        prange_maxloc_f64, prange_scan_f64, prange_column_sums_f64, prange_column_norms_f64, &
        prange_alloc_f64, prange_strerror

    !> The C prange_stop, for prange_for_until.
    type, bind(c) :: c_stop
        integer(c_int) :: value
        integer(c_int64_t) :: index
    end type c_stop

contains

    ! The C view of optional arguments: opts with its struct_size (copied into `o`, which
    ! the caller keeps alive for the call), or null.
    function opts_ptr(opts, o) result(p)
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), intent(out), target :: o
        type(c_ptr) :: p
        p = c_null_ptr
        if (present(opts)) then
            o = opts
            o%struct_size = int(c_sizeof(o), c_int32_t)
            p = c_loc(o)
        end if
    end function opts_ptr

    ! An array's address for C; null for an empty one (C accepts it with n == 0, and
    ! c_loc may not be applied to a zero-sized array).
    function addr(x) result(p)
        real(c_double), intent(in), contiguous, target :: x(:)
        type(c_ptr) :: p
        p = c_null_ptr
        if (size(x) > 0) p = c_loc(x)
    end function addr

    function addr2(a) result(p)
        real(c_double), intent(in), contiguous, target :: a(:, :)
        type(c_ptr) :: p
        p = c_null_ptr
        if (size(a) > 0) p = c_loc(a)
    end function addr2

    function ctx_ptr(ctx) result(p)
        type(c_ptr), intent(in), optional :: ctx
        type(c_ptr) :: p
        p = c_null_ptr
        if (present(ctx)) p = ctx
    end function ctx_ptr

    !> prange_for - run body over [b, e) in parallel (C's prange_for_opts).
    !> Returns 0 or PRANGE_EINVAL (b > e, bad opts; nothing run).
    integer(c_int) function prange_for(b, e, body, ctx, opts) result(ierr)
        integer(c_int64_t), intent(in) :: b, e
        procedure(prange_body_fn) :: body
        type(c_ptr), intent(in), optional :: ctx
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        ierr = c_for_opts(b, e, c_funloc(body), ctx_ptr(ctx), opts_ptr(opts, o))
    end function prange_for

    !> prange_for_until - deterministic early stop: chunks fixed by the range and the grain;
    !> stop_value / stop_index receive the lowest stopping chunk's value and begin index
    !> ({0, e} when none stopped). Returns 0 or PRANGE_EINVAL.
    integer(c_int) function prange_for_until(b, e, body, stop_value, stop_index, ctx, opts) result(ierr)
        integer(c_int64_t), intent(in) :: b, e
        procedure(prange_until_fn) :: body
        integer(c_int), intent(out) :: stop_value
        integer(c_int64_t), intent(out) :: stop_index
        type(c_ptr), intent(in), optional :: ctx
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        type(c_stop), target :: s
        s = c_stop(0, e)
        ierr = c_for_until(b, e, c_funloc(body), ctx_ptr(ctx), opts_ptr(opts, o), c_loc(s))
        stop_value = s%value
        stop_index = s%index
    end function prange_for_until

    !> prange_for_2d - [i0, i1) x [j0, j1) in tiles of tile_i x tile_j (absent or 0 =
    !> automatic), the tiles in parallel. Returns 0 or PRANGE_EINVAL.
    integer(c_int) function prange_for_2d(i0, i1, j0, j1, body, ctx, tile_i, tile_j, opts) result(ierr)
        integer(c_int64_t), intent(in) :: i0, i1, j0, j1
        procedure(prange_body2d_fn) :: body
        type(c_ptr), intent(in), optional :: ctx
        integer(c_int64_t), intent(in), optional :: tile_i, tile_j
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        integer(c_int64_t) :: ti, tj
        ti = 0
        tj = 0
        if (present(tile_i)) ti = tile_i
        if (present(tile_j)) tj = tile_j
        ierr = c_for_2d(i0, i1, j0, j1, ti, tj, c_funloc(body), ctx_ptr(ctx), opts_ptr(opts, o))
    end function prange_for_2d

    !> prange_reduce - a deterministic reduction with any reducer (C's prange_reduce);
    !> result points to reducer%acc_size bytes. Returns 0 or PRANGE_E*.
    integer(c_int) function prange_reduce(b, e, reducer, body, result, ctx, opts) result(ierr)
        integer(c_int64_t), intent(in) :: b, e
        type(prange_reducer), intent(in) :: reducer
        procedure(prange_reduce_fn) :: body
        type(c_ptr), intent(in) :: result
        type(c_ptr), intent(in), optional :: ctx
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        type(prange_reducer), target :: r
        r = reducer
        r%struct_size = int(c_sizeof(r), c_int32_t)
        ierr = c_reduce(b, e, c_loc(r), c_funloc(body), ctx_ptr(ctx), result, opts_ptr(opts, o))
    end function prange_reduce

    ! A built-in reducer's accumulator size, or 0 for a null pointer.
    integer(c_size_t) function acc_size_of(reducer)
        type(c_ptr), intent(in) :: reducer
        type(prange_reducer), pointer :: r
        acc_size_of = 0
        if (.not. c_associated(reducer)) return
        call c_f_pointer(reducer, r)
        acc_size_of = r%acc_size
    end function acc_size_of

    !> prange_reduce_f64 - a reduction into a real(c_double) with a built-in reducer
    !> (prange_reducer_sum_f64(), _prod_, _min_, _max_f64()). Returns 0, PRANGE_EINVAL (also
    !> for a null reducer or one whose accumulator is not the size of a double) or
    !> PRANGE_ENOMEM.
    integer(c_int) function prange_reduce_f64(b, e, reducer, body, result, ctx, opts) result(ierr)
        integer(c_int64_t), intent(in) :: b, e
        type(c_ptr), intent(in) :: reducer
        procedure(prange_reduce_f64_fn) :: body
        real(c_double), intent(out), target :: result
        type(c_ptr), intent(in), optional :: ctx
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        ierr = PRANGE_EINVAL
        if (acc_size_of(reducer) /= c_sizeof(result)) return
        ierr = c_reduce(b, e, reducer, c_funloc(body), ctx_ptr(ctx), c_loc(result), opts_ptr(opts, o))
    end function prange_reduce_f64

    !> prange_reduce_i64 - as prange_reduce_f64 into an integer(c_int64_t), with
    !> prange_reducer_sum_i64(), _min_ or _max_i64().
    integer(c_int) function prange_reduce_i64(b, e, reducer, body, result, ctx, opts) result(ierr)
        integer(c_int64_t), intent(in) :: b, e
        type(c_ptr), intent(in) :: reducer
        procedure(prange_reduce_i64_fn) :: body
        integer(c_int64_t), intent(out), target :: result
        type(c_ptr), intent(in), optional :: ctx
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        ierr = PRANGE_EINVAL
        if (acc_size_of(reducer) /= c_sizeof(result)) return
        ierr = c_reduce(b, e, reducer, c_funloc(body), ctx_ptr(ctx), c_loc(result), opts_ptr(opts, o))
    end function prange_reduce_i64

    !> prange_sum_f64 - sum(x), deterministic and pairwise-accurate (NaN on bad opts).
    real(c_double) function prange_sum_f64(x, opts)
        real(c_double), intent(in), contiguous, target :: x(:)
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        prange_sum_f64 = c_sum_f64(addr(x), size(x, kind=c_int64_t), opts_ptr(opts, o))
    end function prange_sum_f64

    !> prange_dot_f64 - dot_product(x, y) over min(size(x), size(y)) elements, deterministic.
    real(c_double) function prange_dot_f64(x, y, opts)
        real(c_double), intent(in), contiguous, target :: x(:), y(:)
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        prange_dot_f64 = c_dot_f64(addr(x), addr(y), min(size(x, kind=c_int64_t), size(y, kind=c_int64_t)), opts_ptr(opts, o))
    end function prange_dot_f64

    !> prange_nrm2_f64 - norm2(x) without spurious overflow or underflow, deterministic.
    real(c_double) function prange_nrm2_f64(x, opts)
        real(c_double), intent(in), contiguous, target :: x(:)
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        prange_nrm2_f64 = c_nrm2_f64(addr(x), size(x, kind=c_int64_t), opts_ptr(opts, o))
    end function prange_nrm2_f64

    !> prange_minloc_f64 / prange_maxloc_f64 - the smallest / largest element and its
    !> 1-based index (ties: the lowest; the first NaN wins); {NaN, 0} for an empty array.
    type(prange_loc_f64) function prange_minloc_f64(x, opts) result(loc)
        real(c_double), intent(in), contiguous, target :: x(:)
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        loc = c_minloc_f64(addr(x), size(x, kind=c_int64_t), opts_ptr(opts, o))
        loc%index = loc%index + 1
    end function prange_minloc_f64

    type(prange_loc_f64) function prange_maxloc_f64(x, opts) result(loc)
        real(c_double), intent(in), contiguous, target :: x(:)
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        loc = c_maxloc_f64(addr(x), size(x, kind=c_int64_t), opts_ptr(opts, o))
        loc%index = loc%index + 1
    end function prange_maxloc_f64

    !> prange_scan_f64 - prefix sums of x into out (the same size, another array):
    !> inclusive, or exclusive when `exclusive` is present and true. Deterministic.
    !> Returns 0, PRANGE_EINVAL (sizes differ, partial overlap, bad opts) or PRANGE_ENOMEM.
    integer(c_int) function prange_scan_f64(x, out, exclusive, opts) result(ierr)
        real(c_double), intent(in), contiguous, target :: x(:)
        real(c_double), intent(inout), contiguous, target :: out(:)
        logical, intent(in), optional :: exclusive
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        integer(c_int) :: ex
        ierr = PRANGE_EINVAL
        if (size(x) /= size(out)) return
        ex = 0
        if (present(exclusive)) then
            if (exclusive) ex = 1
        end if
        ierr = c_scan_f64(addr(x), addr(out), size(x, kind=c_int64_t), ex, opts_ptr(opts, o))
    end function prange_scan_f64

    !> prange_column_sums_f64 / prange_column_norms_f64 - out(j) = sum / norm2 of a(:, j),
    !> the columns in parallel (C's row kernels: a Fortran column is a C row). size(out)
    !> must be size(a, 2). Returns 0 or PRANGE_EINVAL.
    integer(c_int) function prange_column_sums_f64(a, out, opts) result(ierr)
        real(c_double), intent(in), contiguous, target :: a(:, :)
        real(c_double), intent(inout), contiguous, target :: out(:)
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        ierr = PRANGE_EINVAL
        if (size(out) /= size(a, 2)) return
        ierr = c_row_sums_f64(addr2(a), addr(out), size(a, 2, kind=c_int64_t), size(a, 1, kind=c_int64_t), opts_ptr(opts, o))
    end function prange_column_sums_f64

    integer(c_int) function prange_column_norms_f64(a, out, opts) result(ierr)
        real(c_double), intent(in), contiguous, target :: a(:, :)
        real(c_double), intent(inout), contiguous, target :: out(:)
        type(prange_opts), intent(in), optional :: opts
        type(prange_opts), target :: o
        ierr = PRANGE_EINVAL
        if (size(out) /= size(a, 2)) return
        ierr = c_row_norms_f64(addr2(a), addr(out), size(a, 2, kind=c_int64_t), size(a, 1, kind=c_int64_t), opts_ptr(opts, o))
    end function prange_column_norms_f64

    !> prange_alloc_f64 - n zeroed, NUMA-placed doubles: x points to them (x(1:n)) and the
    !> returned handle is what prange_free takes. c_null_ptr (x nullified) on failure.
    function prange_alloc_f64(n, x) result(handle)
        integer(c_int64_t), intent(in) :: n
        real(c_double), pointer, intent(out) :: x(:)
        type(c_ptr) :: handle
        handle = prange_alloc(n, c_sizeof(0.0_c_double))
        nullify (x)
        if (c_associated(handle)) call c_f_pointer(handle, x, [n])
    end function prange_alloc_f64

    !> prange_strerror - the message of an error code ("success" for 0).
    function prange_strerror(err) result(msg)
        integer(c_int), intent(in) :: err
        character(len=:), allocatable :: msg
        character(kind=c_char), pointer :: s(:)
        type(c_ptr) :: p
        integer :: i, n
        p = c_strerror(err)
        n = int(c_strlen(p))
        call c_f_pointer(p, s, [n])
        allocate (character(len=n) :: msg)
        do i = 1, n
            msg(i:i) = s(i)
        end do
    end function prange_strerror

end module prange
