// The UI language and its translate function, shared through React context.

import { createContext, useContext } from 'react';
import { translate, type TextKey, type UiLang, type Vars } from './i18n';

export interface I18n {
  lang: UiLang;
  t: (key: TextKey, vars?: Vars) => string;
}

export const I18nContext = createContext<I18n>({ lang: 'en', t: (key, vars) => translate('en', key, vars) });

export const useI18n = (): I18n => useContext(I18nContext);
