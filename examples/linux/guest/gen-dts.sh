#!/usr/bin/env bash
# Print the guest's device tree source (compile it with dtc).
#
# The guest gets a subset of QEMU virt: RAM, PSCI CPUs (conduit SMC, as on
# seL4), the GIC with no virtualisation interfaces (the guest is not a
# hypervisor), the architected timer and the PL011. Node names and interrupt
# specifiers follow QEMU's own virt DT, so the same DTB also boots directly on
# QEMU. Nothing in it is QEMU's DTB: that one lists devices the guest does not
# get (DESIGN section 7).
#
# Options (all have defaults):
#   --ram-base ADDR      guest RAM base                      0x40000000
#   --ram-size BYTES     guest RAM size                      0x20000000
#   --cpus N             vCPU count (1..8)                   1
#   --gic 2|3            GIC version                         2
#   --bootargs STRING    /chosen/bootargs
#   --initrd START END   /chosen linux,initrd-start/-end; usually left out,
#                        linux_setup_images writes them at run time
#   --virtio N           N virtio-mmio transports emulated by the VMM      0
#                        (slot i at 0x0a000000 + i*0x200, INTID 48 + i)
#   --no-uart            no PL011 (a guest that is not the machine's first:
#                        its console is a virtio console, hvc0)
set -euo pipefail

ram_base=0x40000000
ram_size=0x20000000
cpus=1
gic=2
bootargs="console=ttyAMA0 earlycon=pl011,0x09000000 nokaslr rdinit=/init"
initrd_start=
initrd_end=
virtio=0
uart=1

# Fixed platform addresses (QEMU virt memory map, hw/arm/virt.c).
readonly GICD_BASE=0x08000000
readonly GICC_BASE=0x08010000   # GICv2 CPU interface (hyp maps GICV here)
readonly GICR_BASE=0x080a0000   # GICv3 redistributors, 128 KiB per CPU
readonly UART_BASE=0x09000000
readonly UART_SPI=1             # INTID 33
readonly MAX_CPUS=8             # GICv2 target lists; MPIDR Aff0 = cpu number
readonly VIRTIO_BASE=0x0a000000 # virtio-mmio transports, 0x200 apart
readonly VIRTIO_SPI=16          # INTID 48 for slot 0
readonly MAX_VIRTIO=32

die() {
    echo "gen-dts: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
    --ram-base) ram_base=$2; shift 2 ;;
    --ram-size) ram_size=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --gic) gic=$2; shift 2 ;;
    --bootargs) bootargs=$2; shift 2 ;;
    --initrd) initrd_start=$2; initrd_end=$3; shift 3 ;;
    --virtio) virtio=$2; shift 2 ;;
    --no-uart) uart=0; shift ;;
    *) die "unknown option $1" ;;
    esac
done

[[ "$cpus" =~ ^[0-9]+$ ]] && [ "$cpus" -ge 1 ] && [ "$cpus" -le $MAX_CPUS ] || die "--cpus must be 1..$MAX_CPUS"
[ "$gic" = 2 ] || [ "$gic" = 3 ] || die "--gic must be 2 or 3"
[[ "$virtio" =~ ^[0-9]+$ ]] && [ "$virtio" -le $MAX_VIRTIO ] || die "--virtio must be 0..$MAX_VIRTIO"
case "$bootargs" in *'"'* | *'\'*) die "bootargs must not contain '\"' or '\\'" ;; esac

# Two 32-bit cells of a 64-bit value, as DTS text.
cells64() {
    local v=$(($1))
    printf '0x%x 0x%x' $(((v >> 32) & 0xffffffff)) $((v & 0xffffffff))
}

# Interrupt specifier flags (bindings/interrupt-controller/arm,gic.yaml):
# bits 3:0 trigger type, and for GICv2 PPIs bits 15:8 the CPU mask.
readonly IRQ_LEVEL_HIGH=4
if [ "$gic" = 2 ]; then
    ppi_flags=$(printf '0x%x' $(((((1 << cpus) - 1) << 8) | IRQ_LEVEL_HIGH)))
else
    ppi_flags=$(printf '0x%x' $IRQ_LEVEL_HIGH)
fi

emit_gic() {
    if [ "$gic" = 2 ]; then
        # GICv2 arch spec 4.1: distributor 4 KiB, CPU interface 8 KiB. No
        # GICH/GICV regions and no maintenance interrupt.
        cat <<EOF
	gic: intc@8000000 {
		compatible = "arm,cortex-a15-gic";
		#interrupt-cells = <3>;
		#address-cells = <0>;
		interrupt-controller;
		reg = <$(cells64 $GICD_BASE) 0x0 0x1000>,
		      <$(cells64 $GICC_BASE) 0x0 0x2000>;
	};
EOF
    else
        # GICv3 arch spec 12.10: distributor 64 KiB; one redistributor
        # (RD_base + SGI_base, 2 x 64 KiB) per CPU. No ITS, no GICV.
        cat <<EOF
	gic: intc@8000000 {
		compatible = "arm,gic-v3";
		#interrupt-cells = <3>;
		#address-cells = <0>;
		interrupt-controller;
		#redistributor-regions = <1>;
		reg = <$(cells64 $GICD_BASE) 0x0 0x10000>,
		      <$(cells64 $GICR_BASE) 0x0 $(printf '0x%x' $((0x20000 * cpus)))>;
	};
EOF
    fi
}

emit_cpus() {
    echo "	cpus {"
    echo "		#address-cells = <1>;"
    echo "		#size-cells = <0>;"
    for ((n = 0; n < cpus; n++)); do
        cat <<EOF

		cpu@$n {
			device_type = "cpu";
			compatible = "arm,cortex-a57";
			reg = <$n>;
			enable-method = "psci";
		};
EOF
    done
    echo "	};"
}

# virtio-mmio transports (virtio 1.2 section 4.2; DT binding virtio/mmio.yaml),
# edge-triggered as the VMM injects them.
readonly IRQ_EDGE_RISING=1
emit_virtio() {
    for ((i = 0; i < virtio; i++)); do
        local base=$((VIRTIO_BASE + i * 0x200))
        cat <<EOF

	virtio_mmio@$(printf '%x' $base) {
		compatible = "virtio,mmio";
		reg = <$(cells64 $base) 0x0 0x200>;
		interrupts = <0 $((VIRTIO_SPI + i)) $IRQ_EDGE_RISING>;
		dma-coherent;
	};
EOF
    done
}

emit_chosen() {
    echo "	chosen {"
    echo "		bootargs = \"$bootargs\";"
    [ "$uart" = 0 ] || echo "		stdout-path = \"/pl011@9000000\";"
    if [ -n "$initrd_start" ]; then
        echo "		linux,initrd-start = <$(cells64 "$initrd_start")>;"
        echo "		linux,initrd-end = <$(cells64 "$initrd_end")>;"
    fi
    echo "	};"
}

cat <<EOF
// Generated by examples/linux/guest/gen-dts.sh: $cpus vCPU(s), GICv$gic,
// RAM $(printf '0x%x' $((ram_base))) + $(printf '0x%x' $((ram_size))).
/dts-v1/;

/ {
	model = "libvmm guest (QEMU virt subset)";
	compatible = "libvmm,guest", "linux,dummy-virt";
	#address-cells = <2>;
	#size-cells = <2>;
	interrupt-parent = <&gic>;

EOF
if [ "$uart" = 1 ]; then
    printf '\taliases {\n\t\tserial0 = "/pl011@9000000";\n\t};\n\n'
fi
emit_chosen
cat <<EOF

	memory@$(printf '%x' $((ram_base))) {
		device_type = "memory";
		reg = <$(cells64 "$ram_base") $(cells64 "$ram_size")>;
	};

EOF
emit_cpus
cat <<EOF

	// PSCI (DEN0022) through SMC: on seL4 an HVC enters the syscall path.
	psci {
		compatible = "arm,psci-1.0", "arm,psci-0.2";
		method = "smc";
	};

EOF
emit_gic
cat <<EOF

	// Secure phys, non-secure phys, virtual, hyp PPIs (INTID 29, 30, 27, 26).
	timer {
		compatible = "arm,armv8-timer";
		interrupts = <1 13 $ppi_flags>, <1 14 $ppi_flags>,
		             <1 11 $ppi_flags>, <1 10 $ppi_flags>;
		always-on;
	};

	apb_pclk: apb-pclk {
		compatible = "fixed-clock";
		#clock-cells = <0>;
		clock-frequency = <24000000>;
		clock-output-names = "clk24mhz";
	};
EOF
if [ "$uart" = 1 ]; then
    cat <<EOF

	pl011@9000000 {
		compatible = "arm,pl011", "arm,primecell";
		reg = <$(cells64 $UART_BASE) 0x0 0x1000>;
		interrupts = <0 $UART_SPI $IRQ_LEVEL_HIGH>;
		clocks = <&apb_pclk>, <&apb_pclk>;
		clock-names = "uartclk", "apb_pclk";
	};
EOF
fi
emit_virtio
echo "};"
