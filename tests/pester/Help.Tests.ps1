#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# Help is generated (tools/helpgen.py) from one source of text and from the compiled cmdlets; here Get-Help, as users
# read it, is held to what Get-Command says the cmdlets are.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Shared.ps1')
    Import-Module $ModuleManifest -Force
    $commands = @(Get-Command -Module S3Mount -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Shared.ps1')
    Import-Module $ModuleManifest -Force
    $common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
}

Describe 'Help matches the compiled <Name>' -ForEach $commands {
    BeforeAll {
        $command = Get-Command $Name
        $help = Get-Help $Name -Full
    }

    It 'has one syntax per parameter set, the default first' {
        @($help.syntax.syntaxItem).Count | Should -Be $command.ParameterSets.Count
    }

    It 'describes every parameter as the cmdlet declares it: mandatory, position, pipeline input, aliases' {
        foreach ($p in $command.Parameters.Values | Where-Object Name -NotIn $common) {
            $h = $help.parameters.parameter | Where-Object Name -EQ $p.Name
            $h | Should -Not -BeNullOrEmpty -Because "-$($p.Name) needs help"
            ($h.description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$($p.Name) needs a description"
            $sets = @($p.ParameterSets.Values)
            $mandatory = @($sets | Where-Object { -not $_.IsMandatory }).Count -eq 0
            $h.required | Should -Be $mandatory.ToString().ToLowerInvariant() -Because "-$($p.Name) Required"
            $position = @($sets | Where-Object Position -GE 0 | ForEach-Object Position | Select-Object -First 1)
            $h.position | Should -Be $(if ($position.Count) { "$($position[0])" } else { 'named' }) -Because "-$($p.Name) Position"
            $byValue = [bool]($sets | Where-Object ValueFromPipeline)
            $byName = [bool]($sets | Where-Object ValueFromPipelineByPropertyName)
            $expected = if ($byValue -or $byName) { 'True (' + ((@('ByValue') * $byValue) + (@('ByPropertyName') * $byName) -join ', ') + ')' } else { 'False' }
            $h.pipelineInput | Should -Be $expected -Because "-$($p.Name) pipeline input"
            $aliases = if ($p.Aliases.Count) { $p.Aliases -join ', ' } else { 'none' }
            $h.aliases | Should -Be $aliases -Because "-$($p.Name) aliases"
        }
        # And no help for parameters the cmdlet does not have.
        @($help.parameters.parameter.Name | Where-Object { -not $command.Parameters.ContainsKey($_) }) | Should -BeNullOrEmpty
    }

    It 'has a synopsis, a description, two examples (one for a fleet where it can reach one) and an online link' {
        $help.Synopsis | Should -Not -Match "^\s*$Name"
        ($help.description | Out-String).Trim() | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        if ($command.Parameters.ContainsKey('InstanceId')) {
            (@($help.examples.example.code) -join "`n") | Should -Match 'InstanceId|-Target'
        }
        @($help.relatedLinks.navigationLink | Where-Object { $_.linkText -like 'Online Version*' }).uri | Should -Match '^https://'
    }
}
