using System;
using System.Collections.Generic;
using System.Linq;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Model;

/// <summary>Where a part of a mount map was written: a file position, or (for piped objects) none.</summary>
public sealed record MapLocation(string? File, int Line, int Column)
{
    public override string ToString() => (File ?? "map") + ":" + Line + ":" + Column;
}

/// <summary>
/// One mount of a map as given: its fields (New-S3MountService's parameter names, plain values, see
/// <see cref="MountSpecFields"/>) over an optional base spec (the options of a piped Get-S3MountService object), and
/// where it came from, for messages.
/// </summary>
public sealed class MountMapEntry
{
    public MountMapEntry(string source, IEnumerable<KeyValuePair<string, object?>> fields, MountSpec? baseSpec = null)
    {
        Source = source;
        Fields = fields.ToList();
        Base = baseSpec;
    }

    /// <summary>The <see cref="Source"/> of mount fields given as cmdlet parameters: a problem names the parameter (<c>-Path</c>).</summary>
    public const string CommandLine = "the command line";

    /// <summary>How a person finds this entry: <c>Mounts[2]</c>, <c>input object 3</c>, <see cref="CommandLine"/>.</summary>
    public string Source { get; }

    public IReadOnlyList<KeyValuePair<string, object?>> Fields { get; }

    public MountSpec? Base { get; }

    /// <summary>Where the entry starts (its <c>@{</c>), when it came from a file.</summary>
    public MapLocation? Location { get; init; }

    /// <summary>Where each field's key is written, when it came from a file.</summary>
    public IReadOnlyDictionary<string, MapLocation> FieldLocations { get; init; } = new Dictionary<string, MapLocation>(StringComparer.OrdinalIgnoreCase);
}

/// <summary>One thing wrong with a map: its own error id, where, which entry and field, and what.</summary>
public sealed class MountMapProblem
{
    public MountMapProblem(string errorId, string message, MapLocation? location = null, string? entry = null, string? field = null)
    {
        ErrorId = errorId;
        Message = message;
        Location = location;
        Entry = entry;
        Field = field;
    }

    public string ErrorId { get; }
    public string Message { get; }
    public MapLocation? Location { get; }
    public string? Entry { get; }
    public string? Field { get; }

    /// <summary><c>nodes.psd1:12:9: Mounts[2].ReadOnly: ...</c>.</summary>
    public override string ToString()
    {
        var where = Entry is null ? Field : Field is null ? Entry : Entry == MountMapEntry.CommandLine ? "-" + Field : Entry + "." + Field;
        return (Location is null ? string.Empty : Location + ": ") + (where is null ? string.Empty : where + ": ") + Message + " (" + ErrorId + ")";
    }
}

/// <summary>A map that was refused: every problem found, each with its place; nothing was sent to any node.</summary>
public sealed class MountMapException : S3MountException
{
    public MountMapException(IReadOnlyList<MountMapProblem> problems, string? source)
        : base(ErrorIds.MapInvalid, S3MountErrorKind.InvalidData,
            (source is null ? "The mount map" : "The mount map " + source) + " was refused before anything was sent or written (" +
            problems.Count + (problems.Count == 1 ? " problem" : " problems") + "):" + System.Environment.NewLine + "  " +
            string.Join(System.Environment.NewLine + "  ", problems.Select(p => p.ToString())),
            source)
    {
        Problems = problems;
    }

    public IReadOnlyList<MountMapProblem> Problems { get; }
}

/// <summary>
/// The desired mounts of a set of nodes, validated as a whole: every mount through <see cref="MountSpecFields"/>, and
/// no two mounts at one path (the same bucket twice, or two buckets), and no mount inside another mapped mount.
/// </summary>
public sealed class MountMap
{
    private MountMap(IReadOnlyList<MountSpec> mounts) => Mounts = mounts;

    /// <summary>The mounts, in the map's order.</summary>
    public IReadOnlyList<MountSpec> Mounts { get; }

    /// <summary>
    /// Builds and validates the map; throws <see cref="MountMapException"/> with every problem (those the reader found
    /// first, in <paramref name="earlier"/>, then each entry's, then the map's) when there is any.
    /// </summary>
    public static MountMap Build(IEnumerable<MountMapEntry> entries, IEnumerable<MountMapProblem>? earlier = null, string? source = null)
    {
        var problems = (earlier ?? Enumerable.Empty<MountMapProblem>()).ToList();
        var built = new List<(MountMapEntry Entry, MountSpec Spec)>();
        foreach (var e in entries)
        {
            try
            {
                built.Add((e, MountSpecFields.Build(e.Base, e.Fields)));
            }
            catch (S3MountException x)
            {
                var field = FieldOf(e, x);
                var at = field is not null && e.FieldLocations.TryGetValue(field, out var l) ? l : e.Location;
                problems.Add(new MountMapProblem(x.ErrorId, x.Message, at, e.Source, field));
            }
        }

        for (var i = 0; i < built.Count; i++)
        {
            for (var j = 0; j < i; j++)
            {
                var (a, sa) = built[j];
                var (b, sb) = built[i];
                if (sa.Path == sb.Path)
                {
                    problems.Add(sa.Bucket == sb.Bucket
                        ? new MountMapProblem(ErrorIds.MapDuplicatePath, $"{sb.Path} is mapped twice (also {a.Source}{At(a, MountSpecFields.Path)}); give each path once.", Where(b, MountSpecFields.Path), b.Source, MountSpecFields.Path)
                        : new MountMapProblem(ErrorIds.MapPathConflict, $"{sb.Path} is mapped to two buckets: {sb.Bucket} here and {sa.Bucket} in {a.Source}{At(a, MountSpecFields.Path)}; one path mounts one bucket.", Where(b, MountSpecFields.Path), b.Source, MountSpecFields.Path));
                }
                else if (Inside(sb.Path, sa.Path) || Inside(sa.Path, sb.Path))
                {
                    var (inner, outer) = Inside(sb.Path, sa.Path) ? (sb.Path, sa.Path) : (sa.Path, sb.Path);
                    problems.Add(new MountMapProblem(ErrorIds.MapNested, $"{inner} is inside {outer}, which the map also mounts ({(inner == sb.Path ? a.Source + At(a, MountSpecFields.Path) : "here")}); a mount would hide the other. Map paths side by side.", Where(b, MountSpecFields.Path), b.Source, MountSpecFields.Path));
                }
            }
        }

        if (problems.Count > 0)
        {
            throw new MountMapException(problems, source);
        }

        return new MountMap(built.Select(x => x.Spec).ToList());
    }

    /// <summary>A map of mounts already built (and valid one by one); the map rules still apply.</summary>
    public static MountMap FromSpecs(IEnumerable<MountSpec> specs) =>
        Build(specs.Select((s, i) => new MountMapEntry("Mounts[" + i + "]", MountSpecFields.ToFields(s).Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)))));

    // The field an error is about: the engine names the field (MountSpecFields; for an unknown field, its key as given)
    // or gives the bad value (MountSpec, the validator), which is matched back to the field that holds it.
    private static string? FieldOf(MountMapEntry e, S3MountException x)
    {
        if (x.Target is not string t)
        {
            return null;
        }

        return MountSpecFields.Canonical(t)
            ?? e.Fields.Select(f => f.Key).FirstOrDefault(k => string.Equals(k, t, StringComparison.OrdinalIgnoreCase)) // an unknown field, named by the error
            ?? e.Fields.Where(f => f.Value is string s ? s == t : f.Value is IEnumerable<object> l && l.Any(v => v as string == t))
                .Select(f => MountSpecFields.Canonical(f.Key)).FirstOrDefault(n => n is not null);
    }

    private static bool Inside(string path, string parent) =>
        path.StartsWith(parent.TrimEnd('/') + "/", StringComparison.Ordinal);

    private static MapLocation? Where(MountMapEntry e, string field) => e.FieldLocations.TryGetValue(field, out var l) ? l : e.Location;

    private static string At(MountMapEntry e, string field) => Where(e, field) is { } l ? " at line " + l.Line : string.Empty;
}
