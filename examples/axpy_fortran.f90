! axpy_fortran.f90 - y = a * x + y and the norm of y from Fortran, with the module `prange`:
! a loop whose body is a bind(c) subroutine reaching its arrays through a type(c_ptr)
! context, arrays from prange_alloc_f64 (pages placed by the loop's own partition), a
! deterministic reduction and a kernel. Checks itself against plain Fortran.
!
! Build standalone (gfortran; prange.mod is installed next to prange.h):
!   gfortran axpy_fortran.f90 -I$(pkg-config --variable=includedir prange) \
!       -lprange_fortran $(pkg-config --libs prange) -o axpy_fortran
! Usage: axpy_fortran [n]   (default 10^7)
module axpy_body
    use, intrinsic :: iso_c_binding
    implicit none
    type :: axpy_args
        real(c_double) :: a
        real(c_double), pointer :: x(:), y(:)
    end type axpy_args
contains
    ! y(i) = a * x(i) + y(i) for i in [b, e): the loop runs over [1, n + 1).
    subroutine axpy(ctx, b, e) bind(c)
        type(c_ptr), value :: ctx
        integer(c_int64_t), value :: b, e
        type(axpy_args), pointer :: p
        integer(c_int64_t) :: i
        call c_f_pointer(ctx, p)
        do i = b, e - 1
            p%y(i) = p%a * p%x(i) + p%y(i)
        end do
    end subroutine axpy

    ! The sum of squares of y over [b, e), folded into acc.
    subroutine squares(ctx, b, e, acc) bind(c)
        type(c_ptr), value :: ctx
        integer(c_int64_t), value :: b, e
        real(c_double), intent(inout) :: acc
        type(axpy_args), pointer :: p
        integer(c_int64_t) :: i
        call c_f_pointer(ctx, p)
        do i = b, e - 1
            acc = acc + p%y(i)**2
        end do
    end subroutine squares
end module axpy_body

program axpy_fortran
    use, intrinsic :: iso_c_binding
    use prange
    use axpy_body
    implicit none
    type(axpy_args), target :: args
    type(c_ptr) :: hx, hy
    integer(c_int64_t) :: n, i
    real(c_double) :: nrm, ss, ref
    character(len=32) :: arg

    n = 10000000
    if (command_argument_count() > 0) then
        call get_command_argument(1, arg)
        read (arg, *) n
    end if
    hx = prange_alloc_f64(n, args%x)
    hy = prange_alloc_f64(n, args%y)
    if (.not. (c_associated(hx) .and. c_associated(hy))) error stop "prange_alloc_f64 failed"
    do i = 1, n
        args%x(i) = real(mod(i, 1000_c_int64_t), c_double) / 1000.0_c_double
        args%y(i) = 1.0_c_double
    end do
    args%a = 2.0_c_double

    if (prange_for(1_c_int64_t, n + 1, axpy, c_loc(args)) /= 0) error stop "prange_for failed"
    if (prange_reduce_f64(1_c_int64_t, n + 1, prange_reducer_sum_f64(), squares, ss, c_loc(args)) /= 0) &
        error stop "prange_reduce_f64 failed"
    nrm = prange_nrm2_f64(args%y)

    ref = 0
    do i = 1, n
        if (abs(args%y(i) - (2.0_c_double * real(mod(i, 1000_c_int64_t), c_double) / 1000.0_c_double + 1)) > 1e-15_c_double) &
            error stop "axpy differs from the serial loop"
        ref = ref + args%y(i)**2
    end do
    print '(a, i0, a, es22.15, a, i0, a)', "n=", n, " norm=", nrm, " (", prange_num_threads(), " threads)"
    if (abs(nrm - sqrt(ref)) > 1e-12_c_double * sqrt(ref)) error stop "nrm2 differs from the serial norm"
    if (abs(sqrt(ss) - sqrt(ref)) > 1e-12_c_double * sqrt(ref)) error stop "the reduction differs from the serial sum"
    call prange_free(hx)
    call prange_free(hy)
end program axpy_fortran
