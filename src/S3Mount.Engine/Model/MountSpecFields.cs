using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Model;

/// <summary>One field of a mount specification that differs between two specs: its parameter name, and the two values.</summary>
public sealed record MountSpecDifference(string Field, object? Old, object? New)
{
    public override string ToString() => Field + ": " + MountSpecFields.FormatValue(Old) + " -> " + MountSpecFields.FormatValue(New);
}

/// <summary>
/// A mount specification as named fields: the New-S3MountService parameter names (<c>Bucket</c>, <c>Path</c>,
/// <c>Prefix</c>, <c>User</c>, <c>Group</c>, <c>ExtraArgument</c>, <c>Environment</c>, and one field per mount-s3 option:
/// <c>ReadOnly</c>, <c>AllowOther</c>, <c>CacheDirectory</c>, <c>BucketRegion</c>, ...). The one place that turns such
/// fields into a <see cref="MountSpec"/> and back, for every input: bound cmdlet parameters, piped objects whose
/// properties are those names, mount-map files, bootstrap exports. Values are plain .NET values (no PowerShell types):
/// <c>bool</c> for switches (false clears the option), integers or digit strings for numbers, strings, and sequences of
/// strings for the repeatable fields; null clears a field.
/// </summary>
public static class MountSpecFields
{
    public const string Bucket = nameof(MountSpec.Bucket);
    public const string Path = nameof(MountSpec.Path);
    public const string Prefix = nameof(MountSpec.Prefix);
    public const string User = nameof(MountSpec.User);
    public const string Group = nameof(MountSpec.Group);
    public const string ExtraArgument = "ExtraArgument";
    public const string Environment = nameof(MountSpec.Environment);

    private static readonly string[] SpecNames = { Bucket, Prefix, Path, User, Group };
    private static readonly string[] ListNames = { ExtraArgument, Environment };

    private static readonly Dictionary<string, OptionDescriptor> Options =
        OptionCatalog.All.Where(d => d.Parameter is not null).ToDictionary(d => d.Parameter!, StringComparer.OrdinalIgnoreCase);

    /// <summary>Every field name, in the order units render them (the spec's own fields first, then the options).</summary>
    public static IReadOnlyList<string> Names { get; } =
        SpecNames.Concat(OptionCatalog.All.Where(d => d.Parameter is not null).Select(d => d.Parameter!)).Concat(ListNames).ToList();

    /// <summary>The canonical spelling of a field name (case-insensitive), or null when it is not a field.</summary>
    public static string? Canonical(string name) => Names.FirstOrDefault(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>True for fields that are switches (<c>ReadOnly</c>): their value is a Boolean.</summary>
    public static bool IsSwitch(string name) => Options.TryGetValue(name, out var d) && d.Arity == OptionArity.Flag;

    /// <summary>
    /// Builds a spec: <paramref name="baseSpec"/> (or an empty one) with every field of <paramref name="values"/> applied
    /// over it, so a field the caller gives overrides only that field. Bucket and Path are required once all is applied.
    /// The result is validated (<see cref="SpecValidator.EnsureValid"/>). Throws <see cref="S3MountException"/> with the
    /// field's name in the message for an unknown field, a value of the wrong type, or an invalid spec.
    /// </summary>
    public static MountSpec Build(MountSpec? baseSpec, IEnumerable<KeyValuePair<string, object?>> values)
    {
        var list = values.ToList();
        var duplicate = list.GroupBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw Bad(ErrorIds.FieldInvalid, duplicate.Key, "is given more than once");
        }

        var given = list.ToDictionary(kv => Canonical(kv.Key) ?? throw Unknown(kv.Key), kv => kv.Value, StringComparer.Ordinal);
        var b = baseSpec ?? new MountSpec();

        // The bucket may be an s3:// URI holding a prefix; the prefix then comes from it (MountSpec.Create checks both).
        var bucket = given.TryGetValue(Bucket, out var bv) ? Text(Bucket, bv) : null;
        var prefixGiven = given.TryGetValue(Prefix, out var pv);
        var prefix = prefixGiven ? Text(Prefix, pv) : (bucket is null ? b.Prefix : null);
        var path = given.TryGetValue(Path, out var pathValue) ? Text(Path, pathValue) : b.Path;
        var bucketOrUri = bucket ?? (b.Bucket.Length == 0 ? null : b.Bucket);
        if (string.IsNullOrEmpty(bucketOrUri))
        {
            throw Bad(ErrorIds.FieldInvalid, Bucket, "is required: give the bucket to mount (a name, an access point, or s3://bucket/prefix/)");
        }

        if (string.IsNullOrEmpty(path))
        {
            throw Bad(ErrorIds.FieldInvalid, Path, "is required: give the absolute directory to mount at");
        }

        var options = b.Options;
        foreach (var kv in given)
        {
            if (!Options.TryGetValue(kv.Key, out var d))
            {
                continue;
            }

            options = Apply(d, options, kv.Value);
        }

        var user = given.TryGetValue(User, out var uv) ? Text(User, uv) : b.User;
        var group = given.TryGetValue(Group, out var gv) ? Text(Group, gv) : b.Group;
        var spec = MountSpec.Create(bucketOrUri!, path!, prefix, options, user, group) with
        {
            ExtraArguments = given.TryGetValue(ExtraArgument, out var xv) ? new ValueList<string>(Texts(ExtraArgument, xv)) : b.ExtraArguments,
            Environment = given.TryGetValue(Environment, out var ev) ? new ValueList<string>(Texts(Environment, ev)) : b.Environment,
        };
        SpecValidator.EnsureValid(spec);
        return spec;
    }

    /// <summary>
    /// The fields of <paramref name="spec"/> that differ from a new spec's defaults, in <see cref="Names"/> order, as
    /// plain values: Bucket, Path, Prefix and User always; switches as <c>true</c>; numbers as <c>long</c>; enumerated
    /// and special values in mount-s3's words (<c>aws:kms</c>, <c>0755</c>, <c>indefinite</c>); lists as string arrays.
    /// <c>Build(null, ToFields(s)) == s</c> for every valid spec.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, object>> ToFields(MountSpec spec)
    {
        var list = new List<KeyValuePair<string, object>>
        {
            new(Bucket, spec.Bucket),
        };
        if (spec.Prefix is not null)
        {
            list.Add(new(Prefix, spec.Prefix));
        }

        list.Add(new(Path, spec.Path));
        list.Add(new(User, spec.User));
        if (spec.Group is not null)
        {
            list.Add(new(Group, spec.Group));
        }

        foreach (var d in OptionCatalog.All)
        {
            var v = d.Format(spec.Options);
            if (v is null || d.Parameter is null)
            {
                continue;
            }

            list.Add(new(d.Parameter, d.Arity switch
            {
                OptionArity.Flag => true,
                OptionArity.Repeated => v.ToArray(),
                _ => IsNumber(d) ? long.Parse(v[0], CultureInfo.InvariantCulture) : v[0],
            }));
        }

        if (spec.ExtraArguments.Count > 0)
        {
            list.Add(new(ExtraArgument, spec.ExtraArguments.ToArray()));
        }

        if (spec.Environment.Count > 0)
        {
            list.Add(new(Environment, spec.Environment.ToArray()));
        }

        return list;
    }

    /// <summary>The fields in which <paramref name="current"/> and <paramref name="desired"/> differ, in <see cref="Names"/> order.</summary>
    public static IReadOnlyList<MountSpecDifference> Compare(MountSpec current, MountSpec desired)
    {
        var a = ToFields(current).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var b = ToFields(desired).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var list = new List<MountSpecDifference>();
        foreach (var name in Names)
        {
            a.TryGetValue(name, out var x);
            b.TryGetValue(name, out var y);
            if (!Same(x, y))
            {
                list.Add(new MountSpecDifference(name, x, y));
            }
        }

        return list;
    }

    /// <summary>A value as it reads in messages and reports: <c>True</c>, <c>0755</c>, <c>'a', 'b'</c>, <c>(not set)</c>.</summary>
    public static string FormatValue(object? value) => value switch
    {
        null => "(not set)",
        bool t => t ? "True" : "False",
        string s => s,
        IEnumerable e => string.Join(", ", e.Cast<object>().Select(x => "'" + Convert.ToString(x, CultureInfo.InvariantCulture) + "'")),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty,
    };

    private static bool Same(object? x, object? y) => (x, y) switch
    {
        (null, null) => true,
        (string[] p, string[] q) => p.SequenceEqual(q, StringComparer.Ordinal),
        _ => Equals(x, y),
    };

    private static bool IsNumber(OptionDescriptor d) =>
        d.Property is nameof(MountOptions.Uid) or nameof(MountOptions.Gid) or nameof(MountOptions.MaximumThroughputGbps) or nameof(MountOptions.MaxThreads)
            or nameof(MountOptions.PartSize) or nameof(MountOptions.ReadPartSize) or nameof(MountOptions.WritePartSize) or nameof(MountOptions.MemoryTargetMiB)
            or nameof(MountOptions.OtlpExportInterval) or nameof(MountOptions.MaxCacheSizeMiB);

    private static MountOptions Apply(OptionDescriptor d, MountOptions options, object? value)
    {
        var name = d.Parameter!;
        if (value is null)
        {
            return d.Clear(options);
        }

        switch (d.Arity)
        {
            case OptionArity.Flag:
                return value is bool on
                    ? (on ? d.Set(options) : d.Clear(options))
                    : throw Bad(ErrorIds.OptionInvalid, name, "is a switch: give $true or $false, not " + Describe(value));
            case OptionArity.Repeated:
                return d.Set(d.Clear(options), Texts(name, value));
        }

        string text;
        if (IsNumber(d))
        {
            text = value switch
            {
                string s => s,
                sbyte or byte or short or ushort or int or uint or long or ulong => Convert.ToString(value, CultureInfo.InvariantCulture)!,
                _ => throw Bad(ErrorIds.OptionInvalid, name, "takes a whole number, not " + Describe(value)),
            };
        }
        else if (d.Property is nameof(MountOptions.DirMode) or nameof(MountOptions.FileMode))
        {
            // Modes are octal text ('0755'); a number would be read in decimal, so only text is accepted.
            text = value as string ?? throw Bad(ErrorIds.OptionInvalid, name, "takes an octal mode as text, such as '0755', not " + Describe(value));
        }
        else
        {
            text = value switch
            {
                string s => s,
                sbyte or byte or short or ushort or int or uint or long or ulong when d.Property is nameof(MountOptions.MetadataTtl) or nameof(MountOptions.NegativeMetadataTtl)
                    => Convert.ToString(value, CultureInfo.InvariantCulture)!,
                _ => throw Bad(ErrorIds.OptionInvalid, name, "takes text, not " + Describe(value)),
            };
        }

        // Enumerated values are matched without regard to case (a ValidateSet binds 'aes256' as the user typed it).
        if (d.Words.Count > 0)
        {
            text = d.Words.FirstOrDefault(w => string.Equals(w, text, StringComparison.OrdinalIgnoreCase)) ?? text;
        }

        return d.Set(options, text);
    }

    private static string? Text(string field, object? value) => value switch
    {
        null => null,
        string s => s,
        _ => throw Bad(ErrorIds.FieldInvalid, field, "takes text, not " + Describe(value)),
    };

    private static string[] Texts(string field, object? value) => value switch
    {
        null => Array.Empty<string>(),
        string s => new[] { s },
        IEnumerable e => e.Cast<object?>().Select(x => x as string ?? throw Bad(ErrorIds.FieldInvalid, field, "takes text values, not " + Describe(x))).ToArray(),
        _ => throw Bad(ErrorIds.FieldInvalid, field, "takes text values, not " + Describe(value)),
    };

    private static string Describe(object? value) => value is null ? "nothing" : value.GetType().Name + " '" + FormatValue(value) + "'";

    private static S3MountException Unknown(string name)
    {
        var near = Names.Where(n => n.IndexOf(name, StringComparison.OrdinalIgnoreCase) >= 0 || name.IndexOf(n, StringComparison.OrdinalIgnoreCase) >= 0).Take(3).ToList();
        return new S3MountException(ErrorIds.FieldUnknown, S3MountErrorKind.InvalidArgument,
            $"'{name}' is not a field of a mount" + (near.Count > 0 ? " (did you mean " + string.Join(" or ", near) + "?)" : string.Empty) +
            ". The fields are New-S3MountService's parameter names: Bucket, Path, Prefix, User, Group, ReadOnly, AllowOther, CacheDirectory, ...", name);
    }

    private static S3MountException Bad(string id, string field, string what) =>
        new(id, S3MountErrorKind.InvalidArgument, field + " " + what + ".", field);
}
