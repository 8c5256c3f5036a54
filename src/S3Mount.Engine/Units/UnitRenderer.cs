using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using S3Mount.Engine.Model;

namespace S3Mount.Engine.Units;

/// <summary>Turns a validated <see cref="MountSpec"/> into the exact systemd unit S3Mount installs.</summary>
public static class UnitRenderer
{
    /// <summary>
    /// The unit format S3Mount writes; recorded in each unit as <c>X-S3Mount-Format=</c>. 2: restarts on any end not
    /// asked for, never gives up, backs off; records the health check interval.
    /// </summary>
    public const int FormatVersion = 2;

    /// <summary>Where official packages and the Amazon Linux package put the binary.</summary>
    public const string DefaultMountS3Path = "/usr/bin/mount-s3";

    /// <summary>mount-s3 gives up after 30 s; systemd waits this long, so a slow cache directory still gets its chance.</summary>
    public const int StartTimeoutSeconds = 90;

    /// <summary>The first restart comes this soon (a kill -9 heals in about 2.4 s).</summary>
    public const int RestartSeconds = 2;

    /// <summary>Consecutive failed runs back off to this interval between attempts, and stay there: never longer.</summary>
    public const int RestartMaxDelaySeconds = 20;

    /// <summary>systemd 254 added <c>RestartSteps=</c> / <c>RestartMaxDelaySec=</c>; older ones get the back-off from the unit itself.</summary>
    public const int RestartStepsSystemdVersion = 254;

    /// <summary>The steps systemd takes from <see cref="RestartSeconds"/> to <see cref="RestartMaxDelaySeconds"/> (2, 3.6, 6.3, 11.2, 20 s).</summary>
    public const int RestartSteps = 4;

    /// <summary>A run that was live this long counts as healthy: its failure starts the back-off again from the first step.</summary>
    public const int BackoffHealthySeconds = 60;

    /// <summary>Where the units keep their back-off state (consecutive failed runs, when the mount last became live).</summary>
    public const string BackoffStateDirectory = "/run/s3mount/backoff";

    /// <summary>mount-s3's own exit status for a bad command line: restarting cannot fix it.</summary>
    public const int ArgumentErrorExitStatus = 2;

    /// <summary>The argv of <c>ExecStart=</c>: binary, options in canonical order, extra arguments, bucket, path.</summary>
    public static IReadOnlyList<string> ExecStartArgv(MountSpec spec, string mountS3Path = DefaultMountS3Path)
    {
        var argv = new List<string> { mountS3Path };
        if (spec.Prefix is not null)
        {
            argv.Add("--prefix");
            argv.Add(spec.Prefix);
        }

        argv.AddRange(OptionCatalog.Arguments(spec.Options));
        argv.AddRange(spec.ExtraArguments);
        argv.Add(spec.Bucket);
        argv.Add(spec.Path);
        return argv;
    }

    /// <summary>
    /// The shell snippet (run as root by <c>ExecStartPre=</c> and <c>ExecStopPost=</c>) that lazily unmounts a
    /// mountpoint-s3 mount left at the path, as a crashed or killed daemon leaves it ("Transport endpoint is not connected").
    /// It reads /proc/self/mountinfo (never stats the dead path); $1 is the path as mountinfo escapes it, $2 the path.
    /// </summary>
    public const string CleanupScript =
        "M=\"$1\" awk '{for(i=7;i<=NF;i++)if($i==\"-\")break} $5==ENVIRON[\"M\"]&&$(i+2)==\"mountpoint-s3\"{f=1} END{exit !f}' /proc/self/mountinfo && umount -l \"$2\"";

    public const string CleanupArgv0 = "s3mount-cleanup";

    /// <summary>
    /// The back-off of units on systemd older than 254, which has no <c>RestartSteps=</c> (252 on Amazon Linux 2023 and
    /// Debian 12): <c>$1</c> is <c>wait</c> (<c>ExecStartPre=</c>: sleep so that, RestartSec= included, the attempts
    /// after 1 or 2 consecutive failed runs come 2 s later, then 4, 8, 16 and from the 6th on 20 s), <c>live</c> (<c>ExecStartPost=</c>: the mount is up, note
    /// when) or <c>end</c> (<c>ExecStopPost=</c>: one more failed run, or the first one again after a run that was live
    /// for a minute); <c>$2</c> is the unit's name. The state is one line in /run (gone at boot). S3Mount's own starts
    /// (create, start, restart, repair, the health check) clear it first, so a person never waits for the back-off.
    /// </summary>
    public static readonly string BackoffScript =
        "f=" + BackoffStateDirectory + "/$2; read -r n t 2>/dev/null <\"$f\"; case $n in ''|*[!0-9]*) n=0;; esac; case $t in *[!0-9]*) t=;; esac; " +
        "case $1 in " +
        "wait) d=" + I(RestartSeconds) + "; i=2; while [ $i -lt $n ] && [ $d -lt " + I(RestartMaxDelaySeconds) + " ]; do d=$((d*2)); i=$((i+1)); done; " +
        "[ $d -gt " + I(RestartMaxDelaySeconds) + " ] && d=" + I(RestartMaxDelaySeconds) + "; " +
        "[ $d -gt " + I(RestartSeconds) + " ] && sleep $((d-" + I(RestartSeconds) + "));; " +
        "live) mkdir -p " + BackoffStateDirectory + " && echo \"$n $(date +%s)\" >\"$f\";; " +
        "end) if [ -n \"$t\" ] && [ $(($(date +%s)-t)) -ge " + I(BackoffHealthySeconds) + " ]; then n=1; else n=$((n+1)); fi; mkdir -p " + BackoffStateDirectory + " && echo $n >\"$f\";; " +
        "esac; exit 0";

    public const string BackoffArgv0 = "s3mount-backoff";

    /// <summary>The drop-in create writes beside the unit where systemd has <c>RestartSteps=</c> (see <see cref="RenderBackoffDropIn"/>).</summary>
    public const string BackoffDropInName = "s3mount-restart-steps.conf";

    /// <summary>The cleanup snippet's <c>Exec*=</c> command line for a path (after the <c>-+</c> prefix).</summary>
    public static string CleanupCommand(string path) =>
        string.Join(" ", new[] { "/bin/sh", "-c", CleanupScript, CleanupArgv0, MountPath.ToMountInfo(path), path }.Select(SystemdSyntax.QuoteExecArg));

    /// <summary>The back-off snippet's command line for a mode (wait, live, end), the unit's name given as <c>%n</c>.</summary>
    public static string BackoffCommand(string mode) =>
        string.Join(" ", new[] { "/bin/sh", "-c", BackoffScript, BackoffArgv0, mode }.Select(SystemdSyntax.QuoteExecArg)) + " %n";

    /// <summary>Renders the unit file.</summary>
    public static string Render(MountSpec spec, string mountS3Path = DefaultMountS3Path)
    {
        var path = spec.Path;
        var cleanup = CleanupCommand(path);
        var sb = new StringBuilder();
        void L(string line) => sb.Append(line).Append('\n');

        L("# Managed by S3Mount. Change it with New-S3MountService -Force (or Remove-S3MountService), not by hand:");
        L("# S3Mount reads the X-S3Mount-* keys below to list and manage this mount.");
        L("[Unit]");
        L("Description=" + SystemdSyntax.EscapeSpecifiers($"Mountpoint for Amazon S3: {spec.Uri} at {path}"));
        L("Documentation=https://github.com/awslabs/mountpoint-s3");
        L("Wants=network-online.target");
        L("After=network-online.target");
        L("Before=remote-fs.target");
        L("AssertPathIsDirectory=" + SystemdSyntax.EscapeSpecifiers(path));
        // Never give up: no start rate limit; the back-off below spaces the attempts instead.
        L("StartLimitIntervalSec=0");
        L("X-S3Mount-Format=" + FormatVersion.ToString(CultureInfo.InvariantCulture));
        L("X-S3Mount-Bucket=" + XValue.Encode(spec.Bucket));
        if (spec.Prefix is not null)
        {
            L("X-S3Mount-Prefix=" + XValue.Encode(spec.Prefix));
        }

        L("X-S3Mount-Path=" + XValue.Encode(path));
        L("X-S3Mount-HealthCheck=" + I(spec.HealthCheckIntervalSeconds));
        L(string.Empty);
        L("[Service]");
        L("Type=forking");
        L("User=" + spec.User);
        if (spec.Group is not null)
        {
            L("Group=" + spec.Group);
        }

        foreach (var e in spec.Environment)
        {
            L("Environment=" + SystemdSyntax.QuoteEnvironment(e));
        }

        L("ExecStartPre=-+" + BackoffCommand("wait"));
        L("ExecStartPre=-+" + cleanup);
        L("ExecStart=" + string.Join(" ", ExecStartArgv(spec, mountS3Path).Select(SystemdSyntax.QuoteExecArg)));
        L("ExecStartPost=-+" + BackoffCommand("live"));
        L("ExecStopPost=-+" + cleanup);
        L("ExecStopPost=-+" + BackoffCommand("end"));

        // Every end that was not asked for (a crash, an unmount behind its back, a failed start) is restarted, for as
        // long as the unit is not stopped; only mount-s3's exit status for a bad command line is not.
        L("Restart=always");
        L("RestartPreventExitStatus=" + I(ArgumentErrorExitStatus));
        L("RestartSec=" + I(RestartSeconds));
        L("TimeoutStartSec=" + StartTimeoutSeconds.ToString(CultureInfo.InvariantCulture));
        L("TimeoutStopSec=30");
        L(string.Empty);
        L("[Install]");
        L("WantedBy=remote-fs.target");
        return sb.ToString();
    }

    /// <summary>
    /// The drop-in for systemd 254 and later: systemd's own back-off (<c>RestartSteps=</c>, <c>RestartMaxDelaySec=</c>)
    /// replaces the unit's waiting <c>ExecStartPre=</c> (the list is cleared and the cleanup put back).
    /// </summary>
    public static string RenderBackoffDropIn(MountSpec spec) =>
        "# Managed by S3Mount: this node's systemd has RestartSteps= (" + I(RestartStepsSystemdVersion) + " or later), so it backs off itself.\n" +
        "[Service]\n" +
        "ExecStartPre=\n" +
        "ExecStartPre=-+" + CleanupCommand(spec.Path) + "\n" +
        "RestartSteps=" + I(RestartSteps) + "\n" +
        "RestartMaxDelaySec=" + I(RestartMaxDelaySeconds) + "\n";

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The files of a mount's health check, as the engine renders them (create names and places them).</summary>
public static class HealthUnits
{
    /// <summary>The program every health check runs: composed by the engine from the same lib.sh probe as Test-S3MountService.</summary>
    public const string ProgramPath = "/usr/local/libexec/s3mount/health-check";

    /// <summary>The name prefix of a mount's health timer and service: <c>s3mount-health-&lt;id&gt;</c> for <c>mountpoint-s3-&lt;id&gt;.service</c>.</summary>
    public const string Prefix = "s3mount-health-";

    /// <summary>The default interval (seconds) of New-S3MountService's health check; 0 turns it off.</summary>
    public const int DefaultIntervalSeconds = 30;

    /// <summary>The shortest interval accepted (one check of a hung mount takes up to about 17 s).</summary>
    public const int MinimumIntervalSeconds = 10;

    /// <summary>The longest interval accepted: a day.</summary>
    public const int MaximumIntervalSeconds = 86400;

    /// <summary>Probes per check, 1 s apart: the check acts only when every one fails (a mount that is merely slow answers one).</summary>
    public const int Probes = 3;

    /// <summary>The health name for a mount unit name (<c>mountpoint-s3-17a82347.service</c> gives <c>s3mount-health-17a82347</c>).</summary>
    public static string NameFor(string mountUnit) =>
        Prefix + mountUnit.Substring(UnitNames.Prefix.Length, mountUnit.Length - UnitNames.Prefix.Length - UnitNames.Suffix.Length);

    /// <summary>The timer: a first check one interval after it starts, then one every interval.</summary>
    public static string RenderTimer(MountSpec spec)
    {
        var interval = spec.HealthCheckIntervalSeconds.ToString(CultureInfo.InvariantCulture);
        return Header +
            "[Unit]\n" +
            "Description=S3Mount health check timer (%N)\n" +
            "Documentation=https://github.com/awslabs/mountpoint-s3\n" +
            "\n" +
            "[Timer]\n" +
            "OnActiveSec=" + interval + "\n" +
            "OnUnitActiveSec=" + interval + "\n" +
            "AccuracySec=1s\n" +
            "\n" +
            "[Install]\n" +
            "WantedBy=timers.target\n";
    }

    /// <summary>
    /// The check: <see cref="ProgramPath"/> with its own name (<c>%N</c>, from which it knows the mount's unit) and the
    /// mount path. It writes its result block to stdout, which is dropped; what it does goes to the journal, and only that.
    /// </summary>
    public static string RenderService(MountSpec spec) =>
        Header +
        "[Unit]\n" +
        "Description=S3Mount health check (%N)\n" +
        "Documentation=https://github.com/awslabs/mountpoint-s3\n" +
        "\n" +
        "[Service]\n" +
        "Type=oneshot\n" +
        "ExecStart=" + SystemdSyntax.QuoteExecArg(ProgramPath) + " %N " + SystemdSyntax.QuoteExecArg(spec.Path) + "\n" +
        "StandardOutput=null\n" +
        "StandardError=journal\n" +
        "SyslogIdentifier=s3mount-health\n" +

        // A check that finds the mount healthy logs nothing, not even systemd's Starting/Finished lines; what the check
        // does is logged at notice (its lines carry a <5> prefix), a failed check at warning.
        "LogLevelMax=notice\n" +
        "TimeoutStartSec=120\n";

    private const string Header = "# Managed by S3Mount: the health check of the mount service of the same id (Remove-S3MountService removes it).\n";
}

/// <summary>
/// Encoding of <c>X-S3Mount-*</c> values: readable, but <c>%</c>, <c>\</c> and leading or trailing spaces are
/// percent-encoded so systemd's line handling (continuations, trimming) cannot change them.
/// </summary>
public static class XValue
{
    public static string Encode(string value)
    {
        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            var edge = i == 0 || i == value.Length - 1;
            sb.Append(c switch
            {
                '%' => "%25",
                '\\' => "%5C",
                _ when char.IsWhiteSpace(c) && edge => "%" + ((int)c).ToString("X2", CultureInfo.InvariantCulture),
                _ => c.ToString(),
            });
        }

        return sb.ToString();
    }

    public static string Decode(string value) => Scripts.ResultBlock.Decode(value.Length == 0 ? "~" : value);
}
