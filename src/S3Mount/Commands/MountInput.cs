using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Model;

namespace S3Mount.Commands;

/// <summary>
/// Mount fields from what a cmdlet receives, as plain values for <see cref="MountSpecFields"/>: the parameters given on
/// the command line, and the properties of a piped object whose names are New-S3MountService's parameter names (a
/// PSCustomObject, a map entry, or Get-S3MountService output, whose Options carry every mount-s3 option). The piped
/// object is read directly rather than through the parameters bound from it: PowerShell keeps a parameter bound by
/// property name from one piped object in BoundParameters for the next one, which would leak one mount's options
/// into another's. The command line overrides the object field by field.
/// </summary>
internal static class MountInput
{
    // Property names of S3Mount's own output that are spelled otherwise as fields.
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["ExtraArguments"] = MountSpecFields.ExtraArgument,
    };

    /// <summary>The field a property of S3Mount's output feeds (ExtraArguments feeds ExtraArgument); others unchanged.</summary>
    public static string FieldName(string property) => Aliases.TryGetValue(property, out var a) ? a : property;

    /// <summary>
    /// The spec: the piped object's Options as the base (or <paramref name="options"/>, given on the command line), its
    /// field-named properties over them, then every field the command line gives (<paramref name="commandLine"/>: the
    /// parameter names given there, with their values).
    /// </summary>
    public static MountSpec Build(PSObject? piped, IEnumerable<KeyValuePair<string, object?>> commandLine, MountOptions? options = null)
    {
        var fields = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        MountOptions? baseOptions = null;
        if (piped is not null && piped.BaseObject is not string)
        {
            foreach (var p in piped.Properties)
            {
                var name = FieldName(p.Name);
                object? value;
                try
                {
                    value = p.Value;
                }
                catch (GetValueException)
                {
                    continue;
                }

                if (string.Equals(name, "Options", StringComparison.OrdinalIgnoreCase))
                {
                    baseOptions = OptionsOf(value, fields);
                    continue;
                }

                if (MountSpecFields.Canonical(name) is { } field && value is not null)
                {
                    fields[field] = Plain(value);
                }
            }
        }

        foreach (var kv in commandLine)
        {
            if (MountSpecFields.Canonical(kv.Key) is { } field)
            {
                fields[field] = Plain(kv.Value);
            }
        }

        return MountSpecFields.Build(new MountSpec { Options = options ?? baseOptions ?? MountOptions.Default }, fields);
    }

    // Options of S3Mount's output: the model itself, or (deserialized, Import-Clixml) an object with the same property
    // names, whose set values become fields.
    private static MountOptions? OptionsOf(object? value, IDictionary<string, object?> fields)
    {
        switch (Shape.Unwrap(value))
        {
            case null:
                return null;
            case MountOptions options:
                return options;
            case var other:
                foreach (var p in PSObject.AsPSObject(other).Properties)
                {
                    if (MountSpecFields.Canonical(p.Name) is { } field && !fields.ContainsKey(field) && Plain(p.Value) is { } v && !(v is bool b && !b) && !(v is IList l && l.Count == 0))
                    {
                        fields[field] = v;
                    }
                }

                return null;
        }
    }

    /// <summary>PowerShell values as the engine takes them: switches as Booleans, wrapped objects unwrapped, lists as arrays.</summary>
    public static object? Plain(object? value) => value switch
    {
        SwitchParameter sw => sw.IsPresent,
        PSObject p => Plain(p.BaseObject),
        string s => s,
        IEnumerable e when value is not IDictionary => e.Cast<object?>().Select(Plain).ToArray(),
        _ => value,
    };
}
