using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Engine.Bootstrap;

/// <summary>What a bootstrap does on the node: an optional install step, then one create step per mount, in order.</summary>
public sealed class BootstrapRequest
{
    /// <summary>The mounts, each as New-S3MountService would create it (no image root: a bootstrap runs on the live node).</summary>
    public IList<CreateRequest> Mounts { get; } = new List<CreateRequest>();

    /// <summary>Install Mountpoint first, as Install-MountpointS3 would; null for no install step. An S3 source must be presigned.</summary>
    public InstallRequest? Install { get; set; }

    /// <summary>When the presigned URLs of an S3 install source stop working (stated in the script's header).</summary>
    public DateTime? PresignedUntilUtc { get; set; }
}

/// <summary>
/// A bootstrap: one self-contained POSIX sh script that runs the engine's own node scripts one after another, as the
/// first boot of a node would (user data, cloud-init, a ParallelCluster action). Every step is exactly the script the
/// cmdlet runs locally or through SSM (<see cref="NodeOperations.Create"/>, <see cref="InstallOperations.Install"/>),
/// with comments removed: its prologue travels as written, and each embedded file (lib.sh, create.sh, ...) travels once
/// for all steps and is joined to the prologues on the node. See <c>Scripts/sh/bootstrap.sh</c> for what it prints.
/// </summary>
public sealed class BootstrapScript
{
    /// <summary>Where the CloudConfig and Mime formats put the script on the node (root only).</summary>
    public const string NodePath = "/var/lib/s3mount/bootstrap.sh";

    private const string SourceEnd = "S3MOUNT_SOURCE_END";
    private const string StepEnd = "S3MOUNT_STEP_END";
    private const string TextEnd = "S3MOUNT_TEXT_END";

    private readonly IReadOnlyDictionary<string, string> _sources;

    private BootstrapScript(string text, IReadOnlyList<Step> steps, IReadOnlyDictionary<string, string> sources, IReadOnlyList<MountSpec> mounts, IReadOnlyList<string> description, bool presigned)
    {
        Text = text;
        _sources = sources;
        Steps = steps;
        Mounts = mounts;
        Description = description;
        HasPresignedUrls = presigned;
    }

    /// <summary>The script, starting with <c>#!/bin/sh</c>.</summary>
    public string Text { get; }

    /// <summary>The steps, in the order the node runs them.</summary>
    public IReadOnlyList<Step> Steps { get; }

    /// <summary>The mounts it creates, in order.</summary>
    public IReadOnlyList<MountSpec> Mounts { get; }

    /// <summary>What it does, one line per step (the step labels of the script; the other formats' comments list them).</summary>
    public IReadOnlyList<string> Description { get; }

    /// <summary>True when the install step downloads through presigned URLs (a grant that anyone holding the artifact can use until it expires).</summary>
    public bool HasPresignedUrls { get; }

    public override string ToString() => Text;

    /// <summary>
    /// The script step <paramref name="index"/> runs on the node, as the bootstrap rebuilds it there: the engine's
    /// composed script (<see cref="NodeScript.Text"/>: its prologue, then each embedded file and a newline) with the
    /// comments of its files removed, and the library functions no step of this bootstrap calls left out.
    /// </summary>
    public string StepText(int index)
    {
        var script = Steps[index].Script;
        var sb = new StringBuilder(CarriesHealthProgram(Steps[index])
            ? string.Join("\n", script.Prologue.Split('\n').Select(l => l.StartsWith(HealthProgramLine, StringComparison.Ordinal) ? HealthProgramLine + NodeOperations.GzipBase64(HealthProgramText!) + "'" : l))
            : script.Prologue);
        foreach (var name in script.Sources)
        {
            sb.Append(_sources[name]).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>
    /// The health check program the create steps install, as the node rebuilds it from the bootstrap's files (its
    /// prologue, then lib.sh and health.sh as the bootstrap carries them); null when no step installs one. In
    /// <see cref="StepText"/> a step carries it gzipped (the node's gzip makes other bytes of the same text).
    /// </summary>
    public string? HealthProgramText => Steps.Any(CarriesHealthProgram)
        ? NodeOperations.HealthProgramPrologue + string.Concat(HealthProgramSources.Select(n => _sources[n] + "\n"))
        : null;

    /// <summary>Composes the bootstrap; validates every mount and the install request first (bad input throws, nothing exists).</summary>
    public static BootstrapScript Compose(BootstrapRequest request)
    {
        if (request is null)
        {
            throw new ArgumentNullException(nameof(request));
        }

        // Each mount valid (its own error id), and together they hold to the rules of a mount map: no path twice, none
        // inside another.
        var mounts = request.Mounts.ToList();
        foreach (var m in mounts)
        {
            SpecValidator.EnsureValid(m.Spec);
        }

        _ = MountMap.FromSpecs(mounts.Select(m => m.Spec));
        if (mounts.Count == 0 && request.Install is null)
        {
            throw new S3MountException(BootstrapErrorIds.Empty, S3MountErrorKind.InvalidArgument,
                "There is nothing to export: give at least one mount (-Bucket and -Path, or piped objects) or an install step (-Install, -Version, -PackageUrl, ...).", null);
        }

        var steps = new List<Step>();
        if (request.Install is not null)
        {
            var what = InstallDescription(request.Install);
            steps.Add(new Step("install", "install " + what, InstallOperations.Install(request.Install)));
        }

        foreach (var m in mounts)
        {
            if (m.Root is not null)
            {
                throw new S3MountException(BootstrapErrorIds.ParameterConflict, S3MountErrorKind.InvalidArgument,
                    "A bootstrap runs on the live node when it boots; it cannot write into an image root (-Root). Use New-S3MountService -Root to prepare an image.", m.Root);
            }

            EnsureNoSecrets(m.Spec);
            var s = m.Spec;
            steps.Add(new Step("create", s.UnitName + ": " + s.Uri + " at " + s.Path + ", as " + s.User + (s.Group is null ? string.Empty : ":" + s.Group), NodeOperations.Create(m)));
        }

        var description = steps.Select((st, i) => (i + 1).ToString(CultureInfo.InvariantCulture) + ". " + st.Label).ToList();
        var presigned = request.Install?.Source == PackageSourceKind.S3;
        var sources = Sources(steps);
        return new BootstrapScript(Render(steps, sources, presigned ? request.PresignedUntilUtc : null, presigned, request.Install), steps, sources, mounts.Select(m => m.Spec).ToList(), description, presigned);
    }

    // The embedded files the steps are made of, each once, without comments; lib.sh without the functions no step calls.
    private static Dictionary<string, string> Sources(IReadOnlyList<Step> steps)
    {
        var names = steps.SelectMany(s => s.Script.Sources).Concat(steps.Any(CarriesHealthProgram) ? HealthProgramSources.Skip(1) : Enumerable.Empty<string>())
            .Distinct(StringComparer.Ordinal).ToList();
        var compact = names.ToDictionary(n => n, CompactSource, StringComparer.Ordinal);
        if (compact.ContainsKey("lib"))
        {
            compact["lib"] = ShellCompaction.WithoutUnusedFunctions(compact["lib"], names.Where(n => n != "lib").Select(n => compact[n]));
        }

        return compact;
    }

    private static string Render(IReadOnlyList<Step> steps, IReadOnlyDictionary<string, string> sources, DateTime? until, bool presigned, InstallRequest? install)
    {
        var version = typeof(BootstrapScript).Assembly.GetName().Version?.ToString(3);
        var sb = new StringBuilder();
        sb.Append("#!/bin/sh\n");
        sb.Append("# shellcheck disable=SC2016 # values are single-quoted on purpose: nothing in them expands\n");
        sb.Append("# S3Mount ").Append(version).Append(" bootstrap (Export-S3MountBootstrap): run it as root with /bin/sh; it needs no PowerShell\n");
        sb.Append("# or .NET. Its steps (the s3b_step lines) are S3Mount's own node scripts, comments removed; a second run changes nothing.\n");
        sb.Append("# Exit 0 when every step succeeded, 1 when one failed. stdout: the steps' result blocks; diagnostics: stderr, journalctl -t s3mount-bootstrap.\n");
        if (presigned)
        {
            var (bucket, key) = S3PackagePresigner.ParseS3Uri(install!.S3Uri);
            sb.Append("# The install step downloads s3://").Append(bucket).Append('/').Append(key)
                .Append(" through presigned URLs that anyone holding this script can use, until ")
                .Append(until is null ? "they expire" : until.Value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture))
                .Append(";\n# nodes that boot after that cannot install from them.\n");
        }

        sb.Append("set -u\n");
        sb.Append("umask 022\n");
        sb.Append("S3B_TOTAL=").Append(steps.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append(CompactSource("bootstrap")).Append('\n');

        foreach (var source in sources)
        {
            HereDocument(sb, "s3b_file src." + source.Key, SourceEnd, source.Value + "\n");
        }

        // The health check program the create steps install: rebuilt on the node from the files above (its probe is the
        // one the steps carry), not carried a second time in every step.
        if (steps.Any(CarriesHealthProgram))
        {
            HereDocument(sb, "s3b_program " + HealthProgramName + " " + string.Join(" ", HealthProgramSources), StepEnd, NodeOperations.HealthProgramPrologue);
        }

        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var prologue = TextValues(step.Script.Prologue, i + 1, sb);
            HereDocument(sb, "s3b_step " + step.Kind + " " + NodeScript.ShellQuote(step.Label) + " " + string.Join(" ", step.Script.Sources), StepEnd, prologue);
        }

        sb.Append("s3b_finish\n");
        return sb.ToString();
    }

    // The prologue with each base64 parameter that holds UTF-8 text (UNIT_B64: the unit file) carried as that text: an
    // s3b_file here-document before the step, and NAME_B64=@TEXT in the prologue, which s3b_step turns back into the
    // same base64 on the node. The unit travels readable, and gzip finds what the units of several mounts share.
    private static string TextValues(string prologue, int step, StringBuilder sb)
    {
        var lines = prologue.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (TextPlaceholder.IsMatch(lines[i]))
            {
                throw new InvalidOperationException("A prologue line looks like a text placeholder: " + lines[i]);
            }

            if (lines[i].StartsWith(HealthProgramLine, StringComparison.Ordinal) && lines[i] != HealthProgramLine + "'")
            {
                lines[i] = NodeOperations.HealthProgramParameter + "=@@" + HealthProgramName;
                continue;
            }

            var m = Base64Assignment.Match(lines[i]);
            if (!m.Success)
            {
                continue;
            }

            string text;
            try
            {
                text = new UTF8Encoding(false, true).GetString(Convert.FromBase64String(m.Groups[2].Value));
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                continue;
            }

            if (!text.EndsWith("\n", StringComparison.Ordinal) || text.IndexOf('\0') >= 0 || text.IndexOf('\r') >= 0 || Convert.ToBase64String(new UTF8Encoding(false).GetBytes(text)) != m.Groups[2].Value)
            {
                continue;
            }

            var name = "s" + step.ToString(CultureInfo.InvariantCulture) + m.Groups[1].Value.ToLowerInvariant();
            HereDocument(sb, "s3b_file text." + name, TextEnd, text);
            lines[i] = m.Groups[1].Value + "_B64=@" + name;
        }

        return string.Join("\n", lines);
    }

    private const string HealthProgramName = "health";

    private static readonly string[] HealthProgramSources = { "lib", "health" };

    private static readonly string HealthProgramLine = NodeOperations.HealthProgramParameter + "='";

    // A create step that installs a health check carries its program (HEALTH_PROGRAM_GZ): in a bootstrap the step
    // reads it as HEALTH_PROGRAM_GZ=@@health instead, which s3b_prologue fills in on the node from s3b_program's file.
    private static bool CarriesHealthProgram(Step step) =>
        step.Script.Prologue.Split('\n').Any(l => l.StartsWith(HealthProgramLine, StringComparison.Ordinal) && l != HealthProgramLine + "'");

    private static readonly System.Text.RegularExpressions.Regex Base64Assignment = new("^([A-Z][A-Z0-9_]*)_B64='([A-Za-z0-9+/=]*)'$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    private static readonly System.Text.RegularExpressions.Regex TextPlaceholder = new("^[A-Z][A-Z0-9_]*_B64=@", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    private static void HereDocument(StringBuilder sb, string command, string delimiter, string body)
    {
        var end = Delimiter(delimiter, body);
        sb.Append(command).Append(" <<'").Append(end).Append("'\n").Append(body).Append(end).Append('\n');
    }

    // A here-document delimiter that no line of the body equals.
    private static string Delimiter(string name, string body)
    {
        var lines = new HashSet<string>(body.Split('\n'), StringComparer.Ordinal);
        var end = name;
        for (var i = 2; lines.Contains(end); i++)
        {
            end = name + i.ToString(CultureInfo.InvariantCulture);
        }

        return end;
    }

    private static readonly Dictionary<string, string> Compacted = new(StringComparer.Ordinal);

    private static string CompactSource(string name)
    {
        lock (Compacted)
        {
            if (!Compacted.TryGetValue(name, out var text))
            {
                text = ShellCompaction.Compact(NodeScript.Source(name));
                Compacted[name] = text;
            }

            return text;
        }
    }

    // AWS credentials in a unit's environment would travel in user data, which any process on the instance can read
    // from the instance metadata service. Nodes get credentials from their instance role (or a profile, -S3Profile).
    private static void EnsureNoSecrets(MountSpec spec)
    {
        foreach (var entry in spec.Environment)
        {
            var name = entry.Split('=')[0];
            if (name is "AWS_SECRET_ACCESS_KEY" or "AWS_SESSION_TOKEN" or "AWS_ACCESS_KEY_ID" or "AWS_SECURITY_TOKEN")
            {
                throw new S3MountException(BootstrapErrorIds.SecretRefused, S3MountErrorKind.SecurityError,
                    $"{spec.UnitName} ({spec.Path}) sets {name} in its environment: a bootstrap never carries credentials (user data is readable by every process on the instance). Give the nodes an instance role, or a profile on the node with -S3Profile.", spec.Path);
            }
        }
    }

    private static string InstallDescription(InstallRequest r)
    {
        var version = InstallOperations.NormalizeVersion(r.Version);
        var what = "mount-s3 " + (version ?? (r.Source == PackageSourceKind.Official ? "(latest)" : "(the package's version)"));
        var from = r.Source switch
        {
            PackageSourceKind.Official => r.BaseUrl.TrimEnd('/'),
            PackageSourceKind.Url => WithoutQuery(r.PackageUrl ?? string.Empty),
            PackageSourceKind.S3 => r.S3Uri + " (presigned)",
            PackageSourceKind.File => r.PackagePath + " on the node",
            _ => "the distribution repository",
        };
        return what + " from " + from + (r.SkipSignatureCheck ? ", signature NOT checked" : r.Source == PackageSourceKind.DistroRepository ? string.Empty : ", signature checked");
    }

    private static string WithoutQuery(string url)
    {
        var q = url.IndexOf('?');
        return q < 0 ? url : url.Substring(0, q);
    }

    /// <summary>One step: its kind (<c>install</c>, <c>create</c>), what it does, and the engine's script for it.</summary>
    public sealed class Step
    {
        internal Step(string kind, string label, NodeScript script)
        {
            Kind = kind;
            Label = label;
            Script = script;
        }

        public string Kind { get; }

        public string Label { get; }

        public NodeScript Script { get; }
    }
}
