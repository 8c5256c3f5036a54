using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;

namespace S3Mount.Commands;

/// <summary>
/// A mount that arrives through the pipeline, read whole: binding each field by property name would keep a field of
/// one object for the next object that lacks it (PowerShell leaves a pipeline-bound parameter in BoundParameters
/// when the next record does not rebind it), and a record whose property does not convert would be skipped with only
/// a binding error. Here every object reaches the cmdlet, and MountSpecFields reads the values with its own errors.
/// </summary>
internal static class PipedMount
{
    /// <summary>
    /// A piped mount as fields: the properties (or, for a hashtable, the keys) named like the cmdlets' mount
    /// parameters or their aliases (Options, ExtraArguments), the way New-S3MountService binds them by property name.
    /// An object's other properties are ignored (Get-S3MountService output has Health, Node, ...); a hashtable's other
    /// keys are refused, since nothing else would tell of a mistyped one.
    /// </summary>
    public static (MountOptions? Options, Dictionary<string, object?> Fields) FieldsOf(PSObject input)
    {
        var pairs = new List<KeyValuePair<string, object?>>();
        var strict = input.BaseObject is IDictionary;
        if (input.BaseObject is IDictionary dictionary)
        {
            foreach (DictionaryEntry e in dictionary)
            {
                pairs.Add(new(Convert.ToString(e.Key, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty, PowerShellValues.Plain(e.Value)));
            }
        }
        else
        {
            foreach (var p in input.Properties)
            {
                if (p.Name is "Options" or "Option" || MountSpecFields.Canonical(p.Name) is not null || p.Name == "ExtraArguments")
                {
                    object? value;
                    try
                    {
                        value = p.Value;
                    }
                    catch (GetValueException e)
                    {
                        throw new S3MountException(ErrorIds.FieldInvalid, S3MountErrorKind.InvalidArgument, $"The property {p.Name} of the piped object could not be read: {e.Message}", p.Name);
                    }

                    pairs.Add(new(p.Name, PowerShellValues.Plain(value)));
                }
            }
        }

        MountOptions? options = null;
        var fields = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var kv in pairs)
        {
            if (kv.Key.Equals("Options", StringComparison.OrdinalIgnoreCase) || kv.Key.Equals("Option", StringComparison.OrdinalIgnoreCase))
            {
                options = kv.Value switch
                {
                    null => null,
                    MountOptions o => o,
                    _ => throw new S3MountException(ErrorIds.FieldInvalid, S3MountErrorKind.InvalidArgument,
                        $"Options must be the mount-s3 options of a mount (the Options property of Get-S3MountService output), not {kv.Value.GetType().Name}. Give options as fields instead (ReadOnly, AllowOther, ...).", kv.Key),
                };
                continue;
            }

            // A hashtable's unknown key stays as it is: MountSpecFields refuses it by name (and says what it may have meant).
            var name = kv.Key.Equals("ExtraArguments", StringComparison.OrdinalIgnoreCase) ? MountSpecFields.ExtraArgument : MountSpecFields.Canonical(kv.Key) ?? (strict ? kv.Key : null);
            if (name is null)
            {
                continue;
            }

            if (fields.ContainsKey(name))
            {
                throw new S3MountException(ErrorIds.FieldInvalid, S3MountErrorKind.InvalidArgument, $"{name} is given more than once ({kv.Key}).", name);
            }

            fields[name] = kv.Value;
        }

        return (options, fields);
    }
}
