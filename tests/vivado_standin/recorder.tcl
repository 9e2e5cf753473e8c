# bnnforge test stand-in for `vivado -mode batch -source SCRIPT` (run by tclsh through the
# `vivado` script next to this file). It defines exactly the Vivado commands listed in
# docs/vivado_tcl.md as recorders and sources SCRIPT: any other Vivado command is an "invalid
# command name" error, an undefined variable an error of tclsh itself. Every call is appended to
# a JSON-lines record ($BNNFORGE_STANDIN_RECORD, default ./vivado_record.jsonl): command, its
# words, and for add_files the files. Recorders return plausible values where a script uses
# results (object names, file paths, run properties, timing numbers), check what Vivado would
# refuse (added files that do not exist, a module reference to an undeclared module, properties
# read from objects that do not have them), and write what the Python side reads back: the
# utilization and timing reports and placeholder .bit/.hwh files.
#
# Environment: BNNFORGE_STANDIN_WNS / _WHS (ns, default 0.512 / 0.031) set the worst setup and
# hold slack; BNNFORGE_STANDIN_UTIL ("LUT FF BRAM_TILES DSP", default "1234 2345 3.5 0") the
# whole design's utilization (the bnnforge_0 cell and the accelerator get fixed shares of it).
# Exit 0 when the script ran through, 1 (with "ERROR: ..." on stdout) when it failed.

namespace eval standin {
    variable here [file dirname [file normalize [info script]]]
    variable record_path ""
    variable log_path ""
    variable project ""
    variable proj_dir ""
    variable part ""
    variable bd ""
    variable files [list]
    variable props
    array set props {}
    variable ip_versions {processing_system7 5.5 zynq_ultra_ps_e 3.4 proc_sys_reset 5.0 smartconnect 1.0}
}

proc standin::env {name default} {
    if {[info exists ::env($name)] && $::env($name) ne ""} {
        return $::env($name)
    }
    return $default
}

proc standin::json {value} {
    return "\"[string map [list \\ \\\\ \" \\\" \n \\n \t \\t \r \\r] $value]\""
}

proc standin::record {cmd words {files {}}} {
    variable record_path
    set items [list]
    foreach w $words {
        lappend items [json $w]
    }
    set line "{\"cmd\": [json $cmd], \"args\": \[[join $items {, }]\]"
    if {[llength $files] > 0} {
        set fitems [list]
        foreach f $files {
            lappend fitems [json $f]
        }
        append line ", \"files\": \[[join $fitems {, }]\]"
    }
    append line "}"
    set fd [open $record_path a]
    puts $fd $line
    close $fd
}

# the commands of docs/vivado_tcl.md
proc standin::documented_commands {} {
    variable here
    set doc [file join $here .. .. docs vivado_tcl.md]
    set fd [open $doc r]
    set text [read $fd]
    close $fd
    set cmds [list]
    foreach line [split $text \n] {
        if {[regexp {^\| `([a-z_]+)` \|} $line -> cmd]} {
            lappend cmds $cmd
        }
    }
    return $cmds
}

# split Vivado-style arguments: options (with a value unless a flag) and positional words
proc standin::parse {words flags} {
    set opts [dict create]
    set pos [list]
    for {set i 0} {$i < [llength $words]} {incr i} {
        set w [lindex $words $i]
        if {[regexp {^-[a-z_]+$} $w]} {
            if {[lsearch -exact $flags $w] >= 0} {
                dict set opts $w 1
            } else {
                incr i
                dict set opts $w [lindex $words $i]
            }
        } else {
            lappend pos $w
        }
    }
    return [list $opts $pos]
}

proc standin::objects {pos} {
    set out [list]
    foreach p $pos {
        foreach o $p {
            lappend out "/[string trimleft $o /]"
        }
    }
    return $out
}

proc standin::fail {msg} {
    error "\[stand-in\] $msg"
}

proc standin::call {cmd args} {
    if {$cmd ne "add_files"} {
        record $cmd $args
    }
    set flags {-force -norecurse -top -import -hierarchical -quiet -verbose -short -latest_file_version}
    lassign [parse $args $flags] opts pos
    switch -- $cmd {
        version {
            if {[dict exists $opts -short]} {
                return 2022.2
            }
            return "Vivado v2022.2 (bnnforge stand-in)"
        }
        create_project {
            variable project [lindex $pos 0]
            variable proj_dir [file normalize [lindex $pos 1]]
            variable part [dict get $opts -part]
            file mkdir $proj_dir
            return $project
        }
        current_project {
            variable project
            return $project
        }
        get_board_parts {
            set found [list]
            foreach p {xilinx.com:zcu104:part0:1.1} {
                if {[string match [lindex $pos 0] $p]} {
                    lappend found $p
                }
            }
            return $found
        }
        add_files {
            return [add_files_cmd $args $pos]
        }
        get_files {
            return [get_files_cmd $pos]
        }
        get_filesets - get_runs {
            return [lindex $pos 0]
        }
        set_property {
            return [set_property_cmd $opts $pos]
        }
        get_property {
            return [get_property_cmd [lindex $pos 0] [lindex $pos 1]]
        }
        create_bd_design {
            variable bd [lindex $pos 0]
            variable proj_dir
            variable project
            variable files
            lappend files [file join $proj_dir $project.srcs sources_1 bd $bd $bd.bd]
            return $bd
        }
        create_bd_cell {
            return [create_bd_cell_cmd $opts $pos]
        }
        get_ipdefs {
            variable ip_versions
            if {[regexp {^xilinx\.com:ip:([a-z0-9_]+):\*$} [lindex $pos 0] -> name] && [dict exists $ip_versions $name]} {
                return "xilinx.com:ip:$name:[dict get $ip_versions $name]"
            }
            return ""
        }
        get_bd_cells - get_bd_pins - get_bd_intf_pins - get_bd_intf_ports - get_bd_addr_spaces - get_bd_addr_segs {
            return [objects $pos]
        }
        create_bd_intf_port {
            return [objects $pos]
        }
        make_wrapper {
            return [make_wrapper_cmd $opts]
        }
        launch_runs {
            return [launch_runs_cmd $pos]
        }
        report_utilization {
            return [report_utilization_cmd $opts]
        }
        report_timing_summary {
            return [report_timing_cmd [dict get $opts -file]]
        }
        get_cells {
            return [get_cells_cmd [dict get $opts -filter]]
        }
        get_timing_paths {
            if {[dict get $opts -delay_type] eq "min"} {
                return path_hold
            }
            return path_setup
        }
        default {
            return ""
        }
    }
}

proc standin::add_files_cmd {words pos} {
    variable files
    set added [list]
    foreach p $pos {
        foreach f $p {
            if {![file exists $f]} {
                fail "add_files: file or directory '$f' does not exist"
            }
            lappend added [file normalize $f]
        }
    }
    # its record line carries the files (the Python side checks them)
    record add_files $words $added
    lappend files {*}$added
    return $added
}

proc standin::get_files_cmd {pos} {
    variable files
    set out [list]
    foreach p $pos {
        foreach pattern $p {
            set hit 0
            foreach f $files {
                if {$f eq [file normalize $pattern] || [file tail $f] eq $pattern} {
                    lappend out $f
                    set hit 1
                }
            }
            if {!$hit} {
                fail "get_files: no file matches '$pattern'"
            }
        }
    }
    return $out
}

proc standin::set_property_cmd {opts pos} {
    variable props
    if {[dict exists $opts -dict]} {
        set pairs [dict get $opts -dict]
        set objs [lindex $pos 0]
    } else {
        set pairs [list [lindex $pos 0] [lindex $pos 1]]
        set objs [lindex $pos 2]
    }
    if {[llength $objs] == 0} {
        fail "set_property: no objects"
    }
    foreach obj $objs {
        foreach {name value} $pairs {
            set props($obj|[string toupper $name]) $value
        }
    }
    return ""
}

proc standin::run_dir {run} {
    variable proj_dir
    variable project
    return [file join $proj_dir $project.runs $run]
}

proc standin::get_property_cmd {name obj} {
    variable props
    set key [string toupper $name]
    if {[info exists props($obj|$key)]} {
        return $props($obj|$key)
    }
    switch -glob -- "$key|$obj" {
        VLNV|xilinx.com:ip:* {
            return $obj
        }
        CONFIG.FREQ_HZ|/ps/FCLK_CLK0 {
            return [expr {round($props(/ps|CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ) * 1e6)}]
        }
        CONFIG.FREQ_HZ|/ps/pl_clk0 {
            return [expr {round($props(/ps|CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ) * 1e6)}]
        }
        PROGRESS|impl_1 {
            return 100%
        }
        STATUS|impl_1 {
            return "write_bitstream Complete!"
        }
        DIRECTORY|impl_1 {
            return [run_dir impl_1]
        }
        STATS.WNS|impl_1 - SLACK|path_setup {
            return [env BNNFORGE_STANDIN_WNS 0.512]
        }
        STATS.WHS|impl_1 - SLACK|path_hold {
            return [env BNNFORGE_STANDIN_WHS 0.031]
        }
        STATS.TNS|impl_1 {
            set wns [env BNNFORGE_STANDIN_WNS 0.512]
            return [expr {$wns < 0 ? $wns * 17 : 0.0}]
        }
        STATS.THS|impl_1 {
            set whs [env BNNFORGE_STANDIN_WHS 0.031]
            return [expr {$whs < 0 ? $whs * 3 : 0.0}]
        }
        STARTPOINT_PIN|path_* {
            return "bnnforge_bd_i/bnnforge_0/inst/bnnforge_system_i/accelerator_i/MVAU_lut_rtl_0_i/core/acc_reg\[7\]/C"
        }
        ENDPOINT_PIN|path_* {
            return "bnnforge_bd_i/bnnforge_0/inst/bnnforge_system_i/accelerator_i/MVAU_lut_rtl_0_i/core/out_reg\[0\]/D"
        }
        ENDPOINT_CLOCK|path_* {
            return clk_fpga_0
        }
        CONFIG.* {
            return ""
        }
    }
    fail "get_property: $obj has no property $name"
}

proc standin::create_bd_cell_cmd {opts pos} {
    variable files
    set name [lindex $pos 0]
    if {[dict exists $opts -type] && [dict get $opts -type] eq "module"} {
        set ref [dict get $opts -reference]
        set declared 0
        foreach f $files {
            if {[file extension $f] in {.v .sv} && [file exists $f]} {
                set fd [open $f r]
                set text [read $fd]
                close $fd
                if {[regexp "(^|\n)\\s*module\\s+$ref\\M" $text]} {
                    set declared 1
                }
            }
        }
        if {!$declared} {
            fail "create_bd_cell: no project source declares module $ref"
        }
    } elseif {![dict exists $opts -vlnv] || [dict get $opts -vlnv] eq ""} {
        fail "create_bd_cell: an IP cell needs -vlnv"
    }
    return "/$name"
}

proc standin::make_wrapper_cmd {opts} {
    variable bd
    variable proj_dir
    variable project
    variable files
    set wrapper [file join $proj_dir $project.gen sources_1 bd $bd hdl ${bd}_wrapper.v]
    file mkdir [file dirname $wrapper]
    set fd [open $wrapper w]
    puts $fd "// stand-in wrapper of $bd\nmodule ${bd}_wrapper ();\nendmodule"
    close $fd
    lappend files $wrapper
    return $wrapper
}

proc standin::launch_runs_cmd {pos} {
    variable bd
    variable proj_dir
    variable project
    set run [lindex $pos 0]
    file mkdir [run_dir $run]
    set fd [open [file join [run_dir $run] ${bd}_wrapper.bit] w]
    puts $fd "bnnforge stand-in bitstream"
    close $fd
    set hwh [file join $proj_dir $project.gen sources_1 bd $bd hw_handoff $bd.hwh]
    file mkdir [file dirname $hwh]
    set fd [open $hwh w]
    puts $fd "<?xml version=\"1.0\"?><!-- bnnforge stand-in hardware handoff of $bd -->"
    close $fd
    return ""
}

# a report_utilization table as Vivado 2022.2 writes it (7-series or UltraScale+ row names)
proc standin::utilization_text {lut ff bram dsp} {
    variable part
    if {[string match xc7* $part]} {
        set l "Slice LUTs"
        set r "Slice Registers"
    } else {
        set l "CLB LUTs"
        set r "CLB Registers"
    }
    set lutram [expr {$lut / 10}]
    set t "Copyright 1986-2022 Xilinx, Inc. All Rights Reserved. (bnnforge stand-in)\n"
    append t "| Tool Version : Vivado v.2022.2 (lin64) stand-in\n| Device       : $part\n| Design State : Routed\n\n"
    append t "1. Slice Logic\n--------------\n\n"
    append t "+-------------------------+------+-------+------------+-----------+-------+\n"
    append t "|        Site Type        | Used | Fixed | Prohibited | Available | Util% |\n"
    append t "+-------------------------+------+-------+------------+-----------+-------+\n"
    append t [format "| %-23s | %4s |     0 |          0 |     53200 |  0.00 |\n" $l $lut]
    append t [format "|   LUT as Logic          | %4s |     0 |          0 |     53200 |  0.00 |\n" [expr {$lut - $lutram}]]
    append t [format "|   LUT as Memory         | %4s |     0 |          0 |     17400 |  0.00 |\n" $lutram]
    append t [format "| %-23s | %4s |     0 |          0 |    106400 |  0.00 |\n" $r $ff]
    append t "+-------------------------+------+-------+------------+-----------+-------+\n\n"
    append t "3. Memory\n---------\n\n"
    append t "+----------------+------+-------+------------+-----------+-------+\n"
    append t "|    Site Type   | Used | Fixed | Prohibited | Available | Util% |\n"
    append t "+----------------+------+-------+------------+-----------+-------+\n"
    append t [format "| Block RAM Tile | %4s |     0 |          0 |       140 |  0.00 |\n" $bram]
    append t "+----------------+------+-------+------------+-----------+-------+\n\n"
    append t "4. DSP\n------\n\n"
    append t "+-----------+------+-------+------------+-----------+-------+\n"
    append t "| Site Type | Used | Fixed | Prohibited | Available | Util% |\n"
    append t "+-----------+------+-------+------------+-----------+-------+\n"
    append t [format "| DSPs      | %4s |     0 |          0 |       220 |  0.00 |\n" $dsp]
    append t "+-----------+------+-------+------------+-----------+-------+\n"
    return $t
}

proc standin::report_utilization_cmd {opts} {
    lassign [env BNNFORGE_STANDIN_UTIL "1234 2345 3.5 0"] lut ff bram dsp
    if {[dict exists $opts -cells]} {
        # bnnforge_0 (DMAs + accelerator) 80 %, the accelerator alone 60 % of the design's LUTs
        set share [expr {[string match *accelerator* [dict get $opts -cells]] ? 0.6 : 0.8}]
        set lut [expr {int($lut * $share)}]
        set ff [expr {int($ff * $share)}]
    }
    set fd [open [dict get $opts -file] w]
    puts -nonewline $fd [utilization_text $lut $ff $bram $dsp]
    close $fd
    return ""
}

proc standin::report_timing_cmd {path} {
    set fd [open $path w]
    puts $fd "Timing summary (bnnforge stand-in)\n    WNS(ns)      TNS(ns)      WHS(ns)      THS(ns)"
    puts $fd [format "    %7s      %7s      %7s      %7s" [get_property_cmd STATS.WNS impl_1] \
        [get_property_cmd STATS.TNS impl_1] [get_property_cmd STATS.WHS impl_1] [get_property_cmd STATS.THS impl_1]]
    close $fd
    return ""
}

proc standin::get_cells_cmd {filter} {
    if {[string match *accelerator* $filter]} {
        return bnnforge_bd_i/bnnforge_0/inst/bnnforge_system_i/accelerator_i
    }
    if {[string match *bnnforge_0* $filter]} {
        return bnnforge_bd_i/bnnforge_0
    }
    return ""
}

proc standin::main {argv} {
    variable record_path
    set script ""
    set log ""
    for {set i 0} {$i < [llength $argv]} {incr i} {
        set a [lindex $argv $i]
        switch -- $a {
            -source {incr i; set script [lindex $argv $i]}
            -log {incr i; set log [lindex $argv $i]}
            -mode {incr i}
            -nojournal - -notrace {}
            -version {puts "Vivado v2022.2 (64-bit) (bnnforge stand-in)"; return 0}
            default {puts "ERROR: \[stand-in\] unknown argument $a"; return 1}
        }
    }
    if {$script eq ""} {
        puts "ERROR: \[stand-in\] no -source SCRIPT"
        return 1
    }
    set record_path [file normalize [env BNNFORGE_STANDIN_RECORD vivado_record.jsonl]]
    set fd [open $record_path w]
    close $fd
    foreach cmd [documented_commands] {
        interp alias {} ::$cmd {} ::standin::call $cmd
    }
    set rc 0
    if {[catch {uplevel #0 [list source $script]} msg]} {
        puts "ERROR: $msg"
        puts $::errorInfo
        set rc 1
    }
    if {$log ne ""} {
        set fd [open $log w]
        puts $fd "bnnforge stand-in vivado: [expr {$rc ? {failed} : {done}}] (record $record_path)"
        close $fd
    }
    return $rc
}

exit [standin::main $argv]
