/*
 * The guest's boot images, linked into the VMM program as Microkit VMMs do.
 * GUEST_KERNEL_PATH, GUEST_DTB_PATH and GUEST_INITRD_PATH are set by the build.
 */
    .section .rodata.guest_images, "a"

    .balign 4096
    .global _guest_kernel_image, _guest_kernel_image_end
_guest_kernel_image:
    .incbin GUEST_KERNEL_PATH
_guest_kernel_image_end:

    .balign 4096
    .global _guest_dtb_image, _guest_dtb_image_end
_guest_dtb_image:
    .incbin GUEST_DTB_PATH
_guest_dtb_image_end:

    .balign 4096
    .global _guest_initrd_image, _guest_initrd_image_end
_guest_initrd_image:
#ifdef GUEST_INITRD_PATH
    .incbin GUEST_INITRD_PATH
#endif
_guest_initrd_image_end:
