/* void vmm_clobber_fp(void): the selftest VMM trashes every FP/SIMD register, FPCR and FPSR. */
    .text
    .global vmm_clobber_fp
vmm_clobber_fp:
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    movi    v\n\().16b, #0xa5
    .endr
    msr     fpcr, xzr
    msr     fpsr, xzr
    ret
