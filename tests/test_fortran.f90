! test_fortran.f90 - the Fortran module `prange` against serial loops: loops with a body and a
! type(c_ptr) context, early stop, 2-D tiles, reductions (built-in and user reducers, the
! same bits for 1, 2 and 4 threads), the kernels on real(c_double) arrays, allocation.
! Exits non-zero (error stop) on the first mismatch.
module fortran_test_bodies
    use, intrinsic :: iso_c_binding
    use prange
    implicit none

    type :: arrays
        real(c_double), pointer :: x(:) => null()
        real(c_double), pointer :: a(:, :) => null()
        integer(c_int64_t) :: target = 0
    end type arrays

contains

    ! x(i) = i / 7 + 1 / (i + 1) for i in [b, e) (the range is [1, n + 1): Fortran indices)
    subroutine fill(ctx, b, e) bind(c)
        type(c_ptr), value :: ctx
        integer(c_int64_t), value :: b, e
        type(arrays), pointer :: d
        integer(c_int64_t) :: i
        call c_f_pointer(ctx, d)
        do i = b, e - 1
            d%x(i) = value_at(i)
        end do
    end subroutine fill

    pure real(c_double) function value_at(i)
        integer(c_int64_t), intent(in) :: i
        value_at = real(i, c_double) / 7.0_c_double + 1.0_c_double / real(i + 1, c_double)
        if (mod(i, 3_c_int64_t) == 0) value_at = -1.0e10_c_double * value_at
    end function value_at

    integer(c_int) function first_above(ctx, b, e) bind(c)
        type(c_ptr), value :: ctx
        integer(c_int64_t), value :: b, e
        type(arrays), pointer :: d
        integer(c_int64_t) :: i
        call c_f_pointer(ctx, d)
        first_above = 0
        do i = b, e - 1
            if (i >= d%target) first_above = 5
        end do
    end function first_above

    subroutine tile(ctx, ib, ie, jb, je) bind(c)
        type(c_ptr), value :: ctx
        integer(c_int64_t), value :: ib, ie, jb, je
        type(arrays), pointer :: d
        integer(c_int64_t) :: i, j
        call c_f_pointer(ctx, d)
        do j = jb, je - 1
            do i = ib, ie - 1
                d%a(i, j) = d%a(i, j) + real(i * 1000 + j, c_double)
            end do
        end do
    end subroutine tile

    subroutine sum_x(ctx, b, e, acc) bind(c)
        type(c_ptr), value :: ctx
        integer(c_int64_t), value :: b, e
        real(c_double), intent(inout) :: acc
        type(arrays), pointer :: d
        integer(c_int64_t) :: i
        call c_f_pointer(ctx, d)
        do i = b, e - 1
            acc = acc + d%x(i)
        end do
    end subroutine sum_x

    subroutine sum_i(ctx, b, e, acc) bind(c)
        type(c_ptr), value :: ctx
        integer(c_int64_t), value :: b, e
        integer(c_int64_t), intent(inout) :: acc
        integer(c_int64_t) :: i
        do i = b, e - 1
            acc = acc + i * i
        end do
        if (c_associated(ctx)) error stop "ctx absent means c_null_ptr"
    end subroutine sum_i

    ! A user reducer: (count, sum of squares) pairs of integers, as an array of 2.
    subroutine pair_identity(rctx, acc, acc_size) bind(c)
        type(c_ptr), value :: rctx, acc
        integer(c_size_t), value :: acc_size
        integer(c_int64_t), pointer :: p(:)
        call c_f_pointer(acc, p, [2])
        p = 0
        if (acc_size /= 16 .or. c_associated(rctx)) error stop "identity arguments"
    end subroutine pair_identity

    subroutine pair_combine(rctx, acc, rhs, acc_size) bind(c)
        type(c_ptr), value :: rctx, acc, rhs
        integer(c_size_t), value :: acc_size
        integer(c_int64_t), pointer :: p(:), q(:)
        call c_f_pointer(acc, p, [2])
        call c_f_pointer(rhs, q, [2])
        p = p + q
        if (acc_size /= 16 .or. c_associated(rctx)) error stop "combine arguments"
    end subroutine pair_combine

    subroutine pair_body(ctx, b, e, acc) bind(c)
        type(c_ptr), value :: ctx, acc
        integer(c_int64_t), value :: b, e
        integer(c_int64_t), pointer :: p(:)
        integer(c_int64_t) :: i
        call c_f_pointer(acc, p, [2])
        do i = b, e - 1
            p(1) = p(1) + 1
            p(2) = p(2) + mod(i, 1000_c_int64_t)**2
        end do
        if (c_associated(ctx)) error stop "ctx"
    end subroutine pair_body

end module fortran_test_bodies

program test_fortran
    use, intrinsic :: iso_c_binding
    use, intrinsic :: ieee_arithmetic
    use prange
    use fortran_test_bodies
    implicit none

    integer(c_int64_t), parameter :: n = 200003
    type(arrays), target :: d
    type(prange_opts) :: o
    type(prange_reducer) :: pair
    type(c_ptr) :: handle
    real(c_double), pointer :: x(:)
    real(c_double), allocatable :: ref(:), out(:), colsum(:)
    real(c_double) :: s, s1, serial
    integer(c_int64_t) :: si, sref, i, j, stop_index
    integer(c_int64_t), target :: pr(2)
    integer(c_int) :: stop_value, t
    integer :: k
    type(prange_loc_f64) :: loc
    integer, parameter :: counts(3) = [1, 2, 4]

    call check(prange_set_num_threads(8) == 0, "set_num_threads")
    handle = prange_alloc_f64(n, x)
    call check(c_associated(handle) .and. size(x) == n, "prange_alloc_f64")
    call check(all(x == 0), "zeroed")
    d%x => x
    allocate (ref(n))
    do i = 1, n
        ref(i) = value_at(i)
    end do
    serial = sum(ref)
    s1 = 0

    do k = 1, size(counts)
        t = counts(k)
        o = prange_opts(threads=t, cost_ns=1.0e6_c_double)
        x = 0
        call check(prange_for(1_c_int64_t, n + 1, fill, c_loc(d), o) == 0, "prange_for")
        call check(all(x == ref), "prange_for fills like the serial loop")

        d%target = 123457
        i = n  ! chunks of ceil(n / 1024) iterations, as prange_for_until cuts them
        i = (i + 1023) / 1024
        call check(prange_for_until(1_c_int64_t, n + 1, first_above, stop_value, stop_index, c_loc(d), o) == 0, "until")
        call check(stop_value == 5 .and. stop_index <= 123457 .and. stop_index + i > 123457, "until's chunk")

        call check(prange_reduce_f64(1_c_int64_t, n + 1, prange_reducer_sum_f64(), sum_x, s, c_loc(d), o) == 0, "reduce")
        if (k == 1) s1 = s
        call check(transfer(s, 0_c_int64_t) == transfer(s1, 0_c_int64_t), "reduce: the same bits for every team")
        call check(abs(s - serial) <= 1.0e-9_c_double * sum(abs(ref)), "reduce against the serial sum")

        call check(prange_reduce_i64(0_c_int64_t, n, prange_reducer_sum_i64(), sum_i, si, opts=o) == 0, "reduce_i64")
        sref = 0
        do i = 0, n - 1
            sref = sref + i * i
        end do
        call check(si == sref, "reduce_i64 against the serial sum")

        pair = prange_reducer(acc_size=16, identity=c_funloc(pair_identity), combine=c_funloc(pair_combine))
        call check(prange_reduce(0_c_int64_t, n, pair, pair_body, c_loc(pr), opts=o) == 0, "user reducer")
        sref = 0
        do i = 0, n - 1
            sref = sref + mod(i, 1000_c_int64_t)**2
        end do
        call check(pr(1) == n .and. pr(2) == sref, "user reducer against the serial loop")

        allocate (d%a(0:99, 0:149))
        d%a = 1
        call check(prange_for_2d(0_c_int64_t, 100_c_int64_t, 0_c_int64_t, 150_c_int64_t, tile, c_loc(d), &
                                 16_c_int64_t, 8_c_int64_t, o) == 0, "for_2d")
        do j = 0, 149
            do i = 0, 99
                call check(d%a(i, j) == real(i * 1000 + j + 1, c_double), "for_2d: each cell once")
            end do
        end do
        allocate (colsum(0:149))
        call check(prange_column_sums_f64(d%a, colsum, o) == 0, "column sums")
        call check(all(abs(colsum - sum(d%a, dim=1)) <= 1.0e-12_c_double * sum(abs(d%a), dim=1)), "column sums")
        call check(prange_column_norms_f64(d%a, colsum, o) == 0, "column norms")
        call check(all(abs(colsum - norm2(d%a, dim=1)) <= 1.0e-12_c_double * norm2(d%a, dim=1)), "column norms")
        deallocate (d%a, colsum)
    end do

    ! Kernels against Fortran's intrinsics.
    s = prange_sum_f64(x)
    call check(abs(s - serial) <= 1.0e-9_c_double * sum(abs(ref)), "prange_sum_f64")
    s = prange_dot_f64(x, ref)
    call check(abs(s - dot_product(ref, ref)) <= 1.0e-12_c_double * dot_product(ref, ref), "prange_dot_f64")
    s = prange_nrm2_f64(x, prange_opts(threads=2))
    call check(abs(s - norm2(ref)) <= 1.0e-12_c_double * norm2(ref), "prange_nrm2_f64")
    loc = prange_minloc_f64(x)
    call check(loc%index == minloc(ref, dim=1) .and. loc%value == minval(ref), "prange_minloc_f64: 1-based")
    loc = prange_maxloc_f64(x)
    call check(loc%index == maxloc(ref, dim=1) .and. loc%value == maxval(ref), "prange_maxloc_f64: 1-based")
    ! (An allocatable's empty section: gfortran packs an empty section of a pointer array
    ! into a null descriptor, which its own -fsanitize=undefined code then reports.)
    loc = prange_minloc_f64(ref(1:0))
    call check(loc%index == 0 .and. ieee_is_nan(loc%value), "minloc of nothing: {NaN, 0}")
    allocate (out(n))
    call check(prange_scan_f64(x, out) == 0, "scan")
    serial = 0
    s = 0  ! sum of |ref(1:i)|, the scale of the error bound
    do i = 1, n
        serial = serial + ref(i)
        s = s + abs(ref(i))
        call check(abs(out(i) - serial) <= 1.0e-9_c_double * s, "inclusive scan")
    end do
    call check(prange_scan_f64(x, out, exclusive=.true.) == 0 .and. out(1) == 0, "exclusive scan")
    call check(prange_scan_f64(x, out(1:10)) == PRANGE_EINVAL, "scan: sizes differ")

    ! Errors come back as C's codes.
    call check(prange_for(5_c_int64_t, 1_c_int64_t, fill, c_loc(d)) == PRANGE_EINVAL, "b > e")
    call check(prange_strerror(PRANGE_EINVAL) == "invalid argument", "prange_strerror")
    call check(prange_reduce_f64(0_c_int64_t, n, c_null_ptr, sum_x, s, c_loc(d)) == PRANGE_EINVAL, "no reducer")
    o = prange_opts(grain=-1)
    call check(prange_for(0_c_int64_t, 10_c_int64_t, fill, c_loc(d), o) == PRANGE_EINVAL, "bad opts")

    call prange_free(handle)
    deallocate (ref, out)  ! a main program's allocatables live to the end: LeakSanitizer sees them
    print '(a)', "test_fortran: all checks passed"

contains

    subroutine check(ok, what)
        logical, intent(in) :: ok
        character(len=*), intent(in) :: what
        if (.not. ok) then
            print '(a, i0)', "test_fortran: FAILED: " // what // ", threads=", t
            error stop 1
        end if
    end subroutine check

end program test_fortran
